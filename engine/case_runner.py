"""Run a pack's own test cases (``tests:``) and say, per case, what did not hold.

Feature values come from the step's ``features:``; a ``FeatureSource`` (the real
feature store on a throw-away Redis) may supply the rest, so that a sequence of
steps builds up counts exactly as live traffic would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.compile.cases import step_event
from engine.evaluation import Evaluation
from engine.events import SCORED_TYPES, Event
from engine.model import TestCase
from engine.rule_engine import LoadedRuleSet

#: (case index, event) -> feature values recorded and read for that event.
FeatureSource = Callable[[int, Event], Awaitable[Mapping[str, Any]]]


@dataclass
class CaseResult:
    case: TestCase
    failures: list[str] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


async def run_cases(loaded: LoadedRuleSet, source: FeatureSource | None = None) -> list[CaseResult]:
    results = []
    for case_index, case in enumerate(loaded.ruleset.tests):
        results.append(await run_case(loaded, case_index, case, source))
    return results


async def run_case(loaded: LoadedRuleSet, case_index: int, case: TestCase, source: FeatureSource | None) -> CaseResult:
    result = CaseResult(case)
    for step_index, step in enumerate(case.steps):
        event = step_event(step.event, case_index, step_index, region=loaded.ruleset.phone_region)
        features: dict[str, Any] = dict(await source(case_index, event)) if source else {}
        features.update(step.features)
        if event.type not in SCORED_TYPES:
            continue
        evaluation = loaded.evaluate(event, features)
        result.evaluations.append(evaluation)
        if step.expect:
            where = f"step {step_index + 1} ({step.location.render()})"
            problems = check_expectations(step.expect, evaluation, event)
            result.failures += [f"{where}: {problem}" for problem in problems]
    return result


def check_expectations(expect: Mapping[str, Any], evaluation: Evaluation, event: Event) -> list[str]:
    problems: list[str] = []
    fired = set(evaluation.rule_ids)
    shadow = {r.rule for r in evaluation.shadow}
    if "decision" in expect and evaluation.decision != expect["decision"]:
        problems.append(
            f"decision is {evaluation.decision}, expected {expect['decision']}"
            f" (score {evaluation.score}, reasons {sorted(fired)})"
        )
    if "score" in expect:
        low, high = (expect["score"], expect["score"]) if isinstance(expect["score"], int) else expect["score"]
        if not low <= evaluation.score <= high:
            problems.append(f"score is {evaluation.score}, expected {low}..{high} (reasons {sorted(fired)})")
    if expect.get("reasons") == [] and fired:
        problems.append(f"no rule may fire, but {sorted(fired)} did")
    missing = [r for r in expect.get("reasons", []) if r not in fired]
    if missing:
        problems.append(f"rules {missing} did not fire (fired: {sorted(fired)})")
    unwanted = [r for r in expect.get("not_reasons", []) if r in fired or r in shadow]
    if unwanted:
        problems.append(f"rules {unwanted} fired but must not")
    missing_shadow = [r for r in expect.get("shadow", []) if r not in shadow]
    if missing_shadow:
        problems.append(f"shadow rules {missing_shadow} did not fire (shadow hits: {sorted(shadow)})")
    if "tier" in expect and evaluation.tier != expect["tier"]:
        problems.append(f"tier is {evaluation.tier}, expected {expect['tier']}")
    if "offers" in expect:
        got = sorted(o.id for o in evaluation.offers)
        if got != sorted(expect["offers"]):
            problems.append(f"offers are {got}, expected {sorted(expect['offers'])}")
    problems += _check_beneficiaries(expect.get("beneficiaries") or {}, event, evaluation)
    return problems


def _check_beneficiaries(expected: Mapping[str, str], event: Event, evaluation: Evaluation) -> list[str]:
    """Each named offer is offered, to the customer the case says (the ledger grants it to the same one)."""
    offered = {o.id: o for o in evaluation.offers}
    problems: list[str] = []
    for offer_id, who in expected.items():
        offer = offered.get(offer_id)
        if offer is None:
            problems.append(f"offer {offer_id} is not offered, so nobody receives it (expected {who})")
            continue
        got = offer.recipient(event.customer, event.referrer)
        if got != who:
            role = "the referrer" if offer.beneficiary == "referrer" else "the event's customer"
            problems.append(f"offer {offer_id} goes to {got} ({role}), expected {who}")
    return problems
