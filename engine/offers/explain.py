"""Why and why not, per offer of the pack: the answer of ``POST /v1/score?explain=true``.

Every offer gets one entry: applied (granted, held or reserved, with its value on
this cart), or the first thing that stopped it -- the event type, the tier, the
failing part of its condition with the values read, its time window, risk (with
the decision and the rules behind it), its exclusivity group (which offer the
group's policy chose), or a cap or budget (with what is left).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.evaluation import Evaluation
from engine.expr.explain import failing_parts
from engine.model import CompiledRuleSet, Offer, StackPolicy
from engine.offers.results import BudgetState, Grant
from engine.stacking import offer_value

#: Refusals by the ledger that a budget state explains.
BUDGET_REFUSALS = frozenset({"exhausted", "customer_cap", "daily_cap", "weekly_cap", "monthly_cap"})


def explain_offers(
    *,
    ruleset: CompiledRuleSet,
    evaluation: Evaluation,
    grants: Sequence[Grant],
    budgets: Mapping[str, BudgetState],
    customer_used: Mapping[str, int],
) -> list[dict[str, Any]]:
    """One entry per offer of the pack, in declaration order."""
    facts = evaluation.facts_read
    amount, customer = facts.get("event.amount"), facts.get("event.customer")
    withheld = {w.offer: w.why for w in evaluation.withheld}
    tried = {g.offer_id: g for g in grants}
    chosen_by_group = _chosen(grants, ruleset)
    entries = []
    for offer in ruleset.offers:
        entry: dict[str, Any] = {"offer": offer.id, "label": offer.label, "group": offer.exclusive_group}
        grant = tried.get(offer.id)
        why = withheld.get(offer.id) or (grant.status if grant and not grant.granted else None)
        if grant is not None and grant.granted:
            entry |= {"applied": True, "status": grant.status, "value": offer_value(offer, amount, customer)}
        elif why is None:  # eligible but its group's earlier choice was granted first
            entry |= {"applied": False, "why": "exclusive", **_group(offer, ruleset, chosen_by_group)}
        else:
            entry |= {"applied": False, "why": why}
            entry |= _detail(offer, why, ruleset, evaluation, budgets, customer_used, chosen_by_group)
        entries.append(entry)
    return entries


def _detail(
    offer: Offer,
    why: str,
    ruleset: CompiledRuleSet,
    evaluation: Evaluation,
    budgets: Mapping[str, BudgetState],
    customer_used: Mapping[str, int],
    chosen: Mapping[str, str],
) -> dict[str, Any]:
    if why == "condition" and offer.condition is not None:
        return {"failed": failing_parts(offer.condition, evaluation.facts_read)}
    if why == "tier":
        return {"tier": evaluation.tier, "tiers": sorted(offer.tiers)}
    if why == "event_type":
        return {"on": sorted(offer.on)}
    if why == "window" and offer.window is not None:
        w = offer.window
        return {
            "window": {
                "starts": w.starts.isoformat() if w.starts else None,
                "ends": w.ends.isoformat() if w.ends else None,
                "daily": f"{w.daily_from:%H:%M}-{w.daily_to:%H:%M}" if w.daily_from and w.daily_to else None,
            }
        }
    if why == "risk":
        return {
            "decision": evaluation.decision.value,
            "withhold_on": sorted(d.value for d in offer.withhold_on),
            "rules": [r.rule for r in evaluation.reasons],
        }
    if why == "exclusive":
        return _group(offer, ruleset, chosen)
    if why in BUDGET_REFUSALS:
        return {"budget": _budget(offer, budgets.get(offer.id), customer_used.get(offer.id))}
    return {}


def _budget(offer: Offer, state: BudgetState | None, customer_used: int | None) -> dict[str, Any]:
    b = offer.budget
    left: dict[str, Any] = {
        "total": b.total,
        "remaining": state.remaining if state else None,
        "per_customer": b.per_customer,
        "customer_period": b.customer_period.value,
        "customer_used": customer_used,
    }
    for name, limit, used in (
        ("day", b.per_day, state.today if state else None),
        ("week", b.per_week, state.week if state else None),
        ("month", b.per_month, state.month if state else None),
    ):
        if limit is not None:
            left[f"per_{name}"] = limit
            left[f"{name}_remaining"] = None if used is None else max(limit - used, 0)
    return left


def _group(offer: Offer, ruleset: CompiledRuleSet, chosen: Mapping[str, str]) -> dict[str, Any]:
    group = offer.exclusive_group or ""
    declared = ruleset.offer_groups.get(group)
    return {"policy": (declared.policy if declared else StackPolicy.PRIORITY).value, "chosen": chosen.get(group)}


def _chosen(grants: Sequence[Grant], ruleset: CompiledRuleSet) -> dict[str, str]:
    offers = {o.id: o for o in ruleset.offers}
    chosen: dict[str, str] = {}
    for grant in grants:
        offer = offers.get(grant.offer_id)
        if grant.granted and offer is not None and offer.exclusive_group:
            chosen.setdefault(offer.exclusive_group, offer.id)
    return chosen
