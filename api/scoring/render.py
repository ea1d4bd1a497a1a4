"""Evaluation + grants -> the JSON body of ``/v1/score`` (plain dicts: this is the hot path)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.evaluation import Evaluation, Reason
from engine.events import Event
from engine.model import Decision, FailMode, Offer
from engine.offers.results import Grant
from engine.rule_engine import LoadedRuleSet
from engine.store_free import evaluate_store_free, stricter

#: Withheld because the offer does not apply to this event type: noise, not reported.
_SILENT = frozenset({"event_type"})


def render_evaluation(event: Event, evaluation: Evaluation) -> dict[str, Any]:
    """The response before offers are granted (``offers`` filled by ``render_grants``)."""
    return {
        "event_id": event.event_id,
        "decision": evaluation.decision.value,
        "score": evaluation.score,
        "reasons": [_reason(r) for r in evaluation.reasons],
        "tier": evaluation.tier,
        "tier_label": evaluation.tier_label,
        "offers": [],
        "withheld": [{"offer": w.offer, "why": w.why} for w in evaluation.withheld if w.why not in _SILENT],
        "shadow": [_reason(r) for r in evaluation.shadow],
        "shadow_decision": evaluation.shadow_decision.value,
        "ruleset_version": evaluation.ruleset_version,
        "degraded": False,
        "degraded_reason": None,
    }


def render_grants(body: dict[str, Any], grants: Sequence[Grant], offers: Mapping[str, Offer]) -> None:
    """Granted and held offers into ``offers``; refused ones (budgets) into ``withheld``."""
    for grant in grants:
        if not grant.granted:
            withheld: dict[str, Any] = {"offer": grant.offer_id, "why": grant.status}
            if grant.causes:
                withheld["causes"] = list(grant.causes)  # every cause that holds, ``why`` first
            body["withheld"].append(withheld)
            continue
        offer = offers[grant.offer_id]
        effect = offer.effect
        body["offers"].append(
            {
                "offer": grant.offer_id,
                "label": offer.label,
                "status": grant.status,
                "beneficiary": grant.beneficiary_id,
                "effect": {"type": effect.type.value, "value": effect.value, "description": effect.description},
                "remaining": grant.remaining_total,
                "hold_id": grant.hold_id,
                "release_on": grant.release_on,
                "void_at": grant.void_at.isoformat() if grant.void_at else None,
                "reservation_id": grant.reservation_id,
                "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
            }
        )


def render_fail_mode(event: Event, loaded: LoadedRuleSet, mode: FailMode, why: str) -> dict[str, Any]:
    """The answer without Redis: open = allow, closed = review, or stricter by the rules that need no Redis
    (engine/store_free.py); nothing granted."""
    found = evaluate_store_free(loaded, event)
    decision = stricter(Decision.ALLOW if mode is FailMode.OPEN else Decision.REVIEW, found.decision)
    return {
        "event_id": event.event_id,
        "decision": decision.value,
        "score": found.score,
        "reasons": [_reason(r) for r in found.reasons],
        "tier": "",
        "tier_label": "",
        "offers": [],
        "withheld": [],
        "shadow": [],
        "shadow_decision": decision.value,
        "ruleset_version": loaded.ruleset.version,
        "degraded": True,
        "degraded_reason": f"fail {mode.value}: {why}",
    }


def _reason(reason: Reason) -> dict[str, Any]:
    return {
        "rule": reason.rule,
        "code": reason.code,
        "text": reason.text_zh,
        "text_en": reason.text_en,
        "score": reason.score,
        "values": dict(reason.values),
    }
