"""What a decided case does: approve grants and releases, deny labels, lists and claws back.

Run after DECIDE has moved the case (engine.cases.scripts), by the request that
decided it or by ``yutang worker`` for a timeout or an unfinished decision; every step
is idempotent, so running them again after a crash repeats nothing:

- **approve** grants each withheld offer through the ledger under the id of the event
  that withheld it (a retried grant returns the stored outcome, never a second unit),
  at the decision's time, so today's budgets and caps decide (what could not be
  granted is reported with the ledger's reason); releases the holds whose beneficiary
  is the case's customer; lifts the watch entry late evidence put on the customer.
- **deny** records ``label: fraud`` for the customer under the event id
  ``<case>-deny`` through the outcome path (voids its holds, blocks it, watches what the
  store knows it by, exports the label so replay learns from it) with late evidence
  ``case_denied`` (clawbacks, webhook), then lists the extra entities the pack's
  ``review.deny`` names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.outcomes.service import record_outcome
from api.runtime import Runtime
from engine.cases.model import Case
from engine.events import Event
from engine.features.spec import Entity, ListKind
from engine.offers.results import Grant
from engine.outcome_lists import fraud_cause

AUTHOR_PREFIX = "case:"


async def run_actions(runtime: Runtime, tenant: str, case: Case, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Carry out the case's decision; the result kept on the case (``finish``)."""
    now = datetime.now(UTC)
    if case.decision == "approve":
        result = await _approve(runtime, tenant, case, events, now)
    elif case.decision == "deny":
        result = await _deny(runtime, tenant, case, now)
    else:
        return {}
    await runtime.services.cases.finish(tenant, case.id, result)
    return result


async def _approve(
    runtime: Runtime, tenant: str, case: Case, events: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    loaded = runtime.rulesets.of(tenant)
    offers = {o.id: o for o in loaded.ruleset.offers}
    granted: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for record in events:
        wanted = [w["offer"] for w in record.get("withheld", [])]
        if not wanted:
            continue
        known = sorted((offers[o] for o in wanted if o in offers), key=lambda o: -o.priority)
        gone = [o for o in wanted if o not in offers]  # the running pack no longer has it
        refused += [{"offer": o, "event_id": record["event_id"], "why": "offer_gone"} for o in gone]
        event = _replayed_event(record, case.customer, now)
        grants: list[Grant] = await runtime.guard.call(
            "cases",
            runtime.services.ledger.grant(
                tenant=tenant, event=event, evaluation_offers=known, zone=loaded.evaluator.zone,
                stacked=loaded.evaluator.stacked,
            ),
        )  # fmt: skip
        for grant in grants:
            row = {"offer": grant.offer_id, "event_id": record["event_id"], "beneficiary": grant.beneficiary_id}
            if grant.granted:
                granted.append({**row, "status": grant.status, "hold_id": grant.hold_id,
                                "value": offers[grant.offer_id].effect.value})  # fmt: skip
            else:
                refused.append({**row, "why": grant.status})
    released = await runtime.guard.call(
        "cases",
        runtime.services.ledger.decide_holds(tenant=tenant, customer=case.customer, verb="approve",
                                             cause="review_approved", at=now, cause_event=f"{case.id}-approve"),
    )  # fmt: skip
    lifted = await runtime.guard.call(
        "cases",
        runtime.services.store.remove_entry(tenant=tenant, entity=Entity.CUSTOMER, value=case.customer,
                                            kind=ListKind.WATCH),
    )  # fmt: skip
    return {
        "granted": granted,
        "not_granted": refused,
        "released": [h.hold_id for h in released],
        "lifted": ["customer watch"] if lifted else [],
    }


async def _deny(runtime: Runtime, tenant: str, case: Case, now: datetime) -> dict[str, Any]:
    label = Event(event_id=f"{case.id}-deny", type="label", label="fraud", customer=case.customer, timestamp=now)
    body, replayed = await record_outcome(
        runtime=runtime, tenant=tenant, event=label, author=f"{AUTHOR_PREFIX}{case.id}", evidence="case_denied"
    )
    if not replayed:
        await runtime.observer.outcome(tenant, label)
    listed = await _pack_listings(runtime, tenant, case)
    late = body.get("late_evidence") or {}
    return {
        "label_event": label.event_id,
        "voided": [h["hold_id"] for h in body.get("holds", [])] + [h["hold_id"] for h in late.get("voided", [])],
        "clawbacks": late.get("clawbacks", []),
        "cancelled": [r["reservation_id"] for r in late.get("cancelled", [])],
        "lists": body.get("lists", []) + listed,
    }


async def _pack_listings(runtime: Runtime, tenant: str, case: Case) -> list[dict[str, str]]:
    """The entries ``review.deny`` adds beyond the fraud label's own (block the devices, watch the customer...)."""
    policy, store = runtime.rulesets.of(tenant).ruleset.review, runtime.services.store
    wanted = [(e, ListKind.BLOCK) for e in policy.deny_block] + [(e, ListKind.WATCH) for e in policy.deny_watch]
    if not wanted:
        return []
    known = await runtime.guard.call("cases", store.known_identities(tenant=tenant, customer=case.customer))
    changes: list[dict[str, str]] = []
    for entity_name, kind in wanted:
        entity = Entity(entity_name)
        if entity is Entity.CUSTOMER:
            if kind is ListKind.BLOCK:
                continue  # the fraud label blocked the customer already
            await runtime.guard.call(
                "cases", store.add_entry(tenant=tenant, entity=entity, value=case.customer, kind=kind,
                                         reason=f"review case {case.id} denied", author=f"{AUTHOR_PREFIX}{case.id}"),
            )  # fmt: skip
            changes.append({"entity": entity.value, "kind": kind.value, "action": "added", "hint": case.customer})
            continue
        ids = [(e, i, f"{e.value} of customer {case.customer}") for e, i in known if e is entity]
        added = await runtime.guard.call(
            "cases",
            store.lists.add_ids(tenant=tenant, ids=ids, kind=kind, reason=f"review case {case.id} denied",
                                author=f"{AUTHOR_PREFIX}{case.id}", cause=fraud_cause(case.customer)),
        )  # fmt: skip
        changes += [{"entity": a.entity.value, "kind": a.kind.value, "action": "added", "hint": a.hint} for a in added]
    return changes


def _replayed_event(record: dict[str, Any], customer: str, now: datetime) -> Event:
    """The withholding event as the ledger needs it, at the decision's time (today's budgets decide)."""
    attributes = {"order_id": record["order_id"]} if record.get("order_id") is not None else {}
    return Event(
        event_id=record["event_id"], type=record["type"], customer=customer, timestamp=now,
        referrer=record.get("referrer"), campaign=record.get("campaign"), amount=record.get("amount"),
        attributes=attributes,
    )  # fmt: skip
