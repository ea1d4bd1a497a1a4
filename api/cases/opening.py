"""A ``review`` decision on ``/v1/score`` -> the case it opens or joins (sent with the request's writes).

No extra round trip: the script call goes out with the grants' history and the kept
answer. The case records what a reviewer needs without re-reading the event: the
reasons with their values, and each offer the decision withheld with its value and
beneficiary (what approve would grant). A retried event replays its first answer and
sends nothing; a repeated event id joins its case once.
"""

from __future__ import annotations

from typing import Any

from engine.cases.book import Opening
from engine.cases.keys import actor_of, case_id_for
from engine.evaluation import Evaluation
from engine.events import Event
from engine.model import Decision
from engine.rule_engine import LoadedRuleSet


def opening_for(loaded: LoadedRuleSet, event: Event, evaluation: Evaluation, body: dict[str, Any]) -> Opening | None:
    """The case opening this answer calls for, or None when it is not a review."""
    if evaluation.decision is not Decision.REVIEW:
        return None
    offers = {o.id: o for o in loaded.ruleset.offers}
    withheld = []
    best: dict[str, float] = {}
    for item in evaluation.withheld:
        offer = offers.get(item.offer)
        if item.why != "risk" or offer is None:
            continue
        beneficiary = offer.recipient(event.customer, event.referrer)
        withheld.append({"offer": offer.id, "value": offer.effect.value, "beneficiary": beneficiary})
        group = offer.exclusive_group or f"\x00{offer.id}"  # one offer per exclusivity group would have gone out
        best[group] = max(best.get(group, 0.0), offer.effect.value)
    record = {
        "event_id": event.event_id,
        "type": event.type,
        "at": event.timestamp.isoformat(),
        "decision": evaluation.decision.value,
        "score": evaluation.score,
        "tier": evaluation.tier,
        "reasons": body["reasons"],
        "withheld": withheld,
        "referrer": event.referrer,
        "campaign": event.campaign,
        "amount": event.amount,
        "order_id": event.attributes.get("order_id"),
    }
    actor, at = actor_of(event.customer), event.epoch
    return Opening(
        actor=actor,
        customer=event.customer,
        case_id=case_id_for(actor, event.event_id),
        event_id=event.event_id,
        at=at,
        deadline=at + loaded.ruleset.review.sla_seconds,
        score=evaluation.score,
        value=sum(best.values()),
        tier=evaluation.tier,
        reasons=[r.rule for r in evaluation.reasons],
        record=record,
    )
