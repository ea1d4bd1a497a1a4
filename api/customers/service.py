"""What the service knows about one customer, read without recording anything.

The tier is computed the way scoring computes it: the customer's features are read
(not recorded) for a synthetic ``order`` event at the current time and the running
tiers are evaluated on them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from api.journeys.service import automation
from api.runtime import Runtime
from engine.datastore.keys import digest
from engine.events import Event
from engine.features.spec import Entity, ListFeature, ReferralFeature, ReferralMetric, WindowedFeature
from engine.journeys.actions import tags_key
from engine.rule_engine import LoadedRuleSet

#: The event type a customer view is evaluated as (tiers apply to every scored type).
VIEW_TYPE = "order"


def customer_specs(loaded: LoadedRuleSet) -> list[Any]:
    """Features keyed by the customer alone: windows by customer, the customer's list flags and its own
    paid mark (``days_since_paid`` by customer: whether the risk rules take it for a customer)."""
    specs = []
    for spec in loaded.ruleset.features.values():
        by_customer = isinstance(spec, WindowedFeature) and spec.by is Entity.CUSTOMER
        own_mark = (
            isinstance(spec, ReferralFeature)
            and spec.metric is ReferralMetric.DAYS_SINCE_PAID
            and spec.by is Entity.CUSTOMER
        )
        if by_customer or own_mark or (isinstance(spec, ListFeature) and spec.entity is Entity.CUSTOMER):
            specs.append(spec)
    return specs


async def customer_features(
    runtime: Runtime, tenant: str, customer: str
) -> tuple[LoadedRuleSet, Event, dict[str, Any]]:
    loaded = runtime.rulesets.of(tenant)
    # never stored; a digest keeps the id within 128 characters for a 128-character customer id
    event = Event(event_id=f"view-{digest(customer)}", type=VIEW_TYPE, customer=customer, timestamp=datetime.now(UTC))
    values = await runtime.guard.call(
        "features", runtime.services.store.read(tenant=tenant, event=event, specs=customer_specs(loaded))
    )
    return loaded, event, dict(values)


async def customer_tier(runtime: Runtime, tenant: str, customer: str) -> tuple[str, str]:
    """(tier id, label) as scoring would compute it now."""
    loaded, event, values = await customer_features(runtime, tenant, customer)
    evaluation = loaded.evaluate(event, values)
    return evaluation.tier, evaluation.tier_label


async def customer_view(runtime: Runtime, tenant: str, customer: str, *, limit: int) -> dict[str, Any]:
    loaded, event, values = await customer_features(runtime, tenant, customer)
    evaluation = loaded.evaluate(event, values)
    services, guard = runtime.services, runtime.guard
    found: list[Any] = list(
        await asyncio.gather(
            guard.call("customer", services.recent_decisions(tenant=tenant, customer=customer, limit=limit)),
            guard.call("customer", services.ledger.customer_grants(tenant=tenant, customer=customer, limit=limit)),
            guard.call("customer", services.contact_history(tenant=tenant, customer=customer, limit=limit)),
            guard.call("customer", services.lists.get(tenant=tenant, entity=Entity.CUSTOMER, value=customer)),
            guard.call("customer", services.client.smembers(tags_key(tenant, customer))),
            guard.call("customer", services.clawbacks.of(tenant=tenant, customer=customer)),
            guard.call("customer", services.clawbacks.history(tenant=tenant, customer=customer, limit=limit)),
            guard.call("customer", services.wecom.standing(tenant=tenant, customer=customer)),
        )
    )
    decisions, grants, contacts, entries, tags, clawbacks, evidence, wecom = found
    clawed = {(c["offer_id"], c["event_id"]) for c in clawbacks}
    return {
        "customer": customer,
        "tier": evaluation.tier,
        "tier_label": evaluation.tier_label,
        "features": {name: values.get(name) for name in sorted(values)},
        "lists": [
            {"kind": e.kind.value, "reason": e.reason, "author": e.author, "expires_at": e.expires_at} for e in entries
        ],
        "tags": sorted(t.decode() if isinstance(t, bytes) else str(t) for t in tags),  # journeys' tag actions
        "recent_decisions": decisions,
        "offers": [
            {
                "offer": g.offer_id,
                "event_id": g.event_id,
                "status": "clawback" if (g.offer_id, g.event_id) in clawed else g.status,
                "at": g.at,
                "hold_id": g.hold_id,
                "void_at": g.void_at,
            }
            for g in grants
        ],
        "contacts": [_contact(c) for c in contacts],
        "clawbacks": clawbacks,  # rewards out already that the storefront should reverse (docs/review.md)
        "late_evidence": evidence,  # each step late evidence took on this customer, with its cause
        "wecom_contacts": wecom,  # the staff members it added on WeCom, as the last callback left them
        "journeys": await guard.call(
            "journeys", automation(runtime).runner.view(tenant=tenant, loaded=loaded, customer=customer, limit=limit)
        ),
    }


def _contact(record: Any) -> dict[str, Any]:
    if isinstance(record, dict):
        return record
    from dataclasses import asdict

    return asdict(record)
