"""What ``/v1/score`` adds on request: why/why-not per offer, and the contact allowance.

``explain=true`` lists every offer of the pack (engine.offers.explain), reading the
budgets of offers a cap refused so the answer says what is left -- one extra round
trip, only when asked. ``contact=<channel>`` answers the contact gate for the same
customer and tier in the same call (``contact_record=true`` records the contact),
so a storefront gets offer, contact allowance and risk from one request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.runtime import Runtime
from engine.errors import StoreUnavailable
from engine.evaluation import Evaluation
from engine.events import Event
from engine.offers.explain import BUDGET_REFUSALS, explain_offers
from engine.offers.results import Grant
from engine.rule_engine import LoadedRuleSet
from engine.stacking import cap_values, effect_for, effect_value


def price_offers(body: dict[str, Any], loaded: LoadedRuleSet, event: Event) -> None:
    """Each granted offer's effect for this customer (experiment variant) and value on this cart.

    A ``stack_all`` group's combined value is capped at its ``max_value``: later offers
    of the group give only what is left (``value`` < ``full_value``).
    """
    offers = {o.id: o for o in loaded.ruleset.offers}
    left: dict[str, list[dict[str, Any]]] = {}
    for granted in body["offers"]:
        offer = offers[granted["offer"]]
        effect, variant = effect_for(offer, granted.get("beneficiary") or event.customer)
        granted["effect"] = {"type": effect.type.value, "value": effect.value, "description": effect.description}
        granted["variant"] = variant
        granted["value"] = granted["full_value"] = effect_value(effect, event.amount)
        if offer.exclusive_group:
            left.setdefault(offer.exclusive_group, []).append(granted)
    for group_id, granted_offers in left.items():
        group = loaded.ruleset.offer_groups.get(group_id)
        if group is None or group.max_value is None:
            continue
        capped = cap_values([g["value"] for g in granted_offers], group.max_value)
        for granted, value in zip(granted_offers, capped, strict=True):
            granted["value"] = value
    body["total_value"] = round(sum(g["value"] for g in body["offers"]), 2)


async def explain(
    runtime: Runtime,
    tenant: str,
    event: Event,
    loaded: LoadedRuleSet,
    evaluation: Evaluation,
    grants: Sequence[Grant],
) -> list[dict[str, Any]]:
    """The per-offer explanation; budgets are read only for offers a cap refused."""
    refused = {g.offer_id for g in grants if g.status in BUDGET_REFUSALS}
    offers = [o for o in loaded.ruleset.offers if o.id in refused]
    budgets: dict[str, Any] = {}
    used: dict[str, int] = {}
    if offers:
        ledger, zone = runtime.services.ledger, loaded.evaluator.zone
        try:
            budgets = await runtime.guard.call(
                "offers", ledger.budgets(tenant=tenant, offers=offers, zone=zone, now=event.timestamp)
            )
            used = await runtime.guard.call(
                "offers",
                ledger.customer_usage(
                    tenant=tenant, offers=offers, customer=event.customer, at=event.timestamp, zone=zone
                ),
            )
        except StoreUnavailable:
            pass  # explained without the counters
    return explain_offers(
        ruleset=loaded.ruleset, evaluation=evaluation, grants=grants, budgets=budgets, customer_used=used
    )


async def contact_allowance(
    runtime: Runtime, tenant: str, event: Event, loaded: LoadedRuleSet, tier: str, channel: str, record: bool
) -> dict[str, Any]:
    """The contact gate's answer for this customer on ``channel`` at the event's time."""
    try:
        answer = await runtime.guard.call(
            "contacts",
            runtime.services.gate.request(
                tenant=tenant,
                customer=event.customer,
                channel=channel,
                tier=tier,
                at=event.timestamp,
                policy=loaded.ruleset.contacts,
                zone=loaded.evaluator.zone,
                record=record,
            ),
        )
    except StoreUnavailable as err:
        return {"channel": channel, "allowed": False, "reason": "degraded", "detail": str(err)}
    return {
        "channel": channel,
        "allowed": answer.allowed,
        "reason": answer.reason,
        "recorded": answer.recorded,
        "used": answer.used,
        "limit": answer.limit,
        "next_allowed_at": answer.next_allowed_at.isoformat() if answer.next_allowed_at else None,
    }
