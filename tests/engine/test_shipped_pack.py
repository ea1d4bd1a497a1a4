"""The shipped pack (rules/) compiles cleanly, passes its own cases, and every rule is exercised."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.backends import BackendKind
from engine.case_runner import CaseResult, run_cases
from engine.model import Mode
from engine.pack.loader import read_pack_files
from engine.rule_engine import LoadedRuleSet, prepare

RULES = Path(__file__).parents[2] / "rules"


@pytest.fixture(scope="module")
def loaded() -> LoadedRuleSet:
    return prepare(read_pack_files(RULES), BackendKind.PYTHON)


@pytest.fixture(scope="module")
def results(loaded: LoadedRuleSet) -> list[CaseResult]:
    return asyncio.run(run_cases(loaded))


def test_pack_compiles_without_warnings(loaded: LoadedRuleSet) -> None:
    assert [d.render() for d in loaded.diagnostics] == []


def test_pack_is_realistically_sized(loaded: LoadedRuleSet) -> None:
    ruleset = loaded.ruleset
    assert len(ruleset.rules) >= 60
    assert [t.label for t in ruleset.tiers] == ["重要型", "常规型", "偶然型"]
    assert any(o.effect.type == "privilege" for o in ruleset.offers)
    assert any(o.hold is not None for o in ruleset.offers)
    assert any(r.mode is Mode.SHADOW for r in ruleset.rules)


def test_every_case_passes(results: list[CaseResult]) -> None:
    failures = {r.case.name: r.failures for r in results if not r.passed}
    assert failures == {}


def test_every_rule_fires_in_some_case(loaded: LoadedRuleSet, results: list[CaseResult]) -> None:
    fired = {reason.rule for r in results for e in r.evaluations for reason in (*e.reasons, *e.shadow)}
    never = sorted(r.id for r in loaded.ruleset.rules if r.id not in fired)
    assert never == []


def test_honest_customers_are_allowed_somewhere_in_the_cases(results: list[CaseResult]) -> None:
    clean = [e for r in results for e in r.evaluations if e.decision == "allow" and not e.reasons]
    assert clean, "the pack's cases must include honest customers who pass untouched"
    assert any(e.offers for e in clean)


def test_every_offer_has_a_case_saying_who_receives_it(loaded: LoadedRuleSet) -> None:
    asserted = {
        offer
        for case in loaded.ruleset.tests
        for step in case.steps
        for offer in (step.expect or {}).get("beneficiaries", {})
    }
    assert sorted(o.id for o in loaded.ruleset.offers if o.id not in asserted) == []


def test_a_referral_gift_sent_to_the_invitee_fails_the_packs_own_cases() -> None:
    """Issue 21: without ``beneficiary: referrer`` the gift went to the friend; the cases must say so."""
    files = read_pack_files(RULES)
    offers = next(path for path in files if path.endswith("offers.yaml") and "journeys" not in path)
    line = "    beneficiary: referrer       # the event's customer is the invitee; the gift is the inviter's\n"
    assert line in files[offers]
    files[offers] = files[offers].replace(line, "")
    broken = prepare(files, BackendKind.PYTHON)
    warnings = [d.render() for d in broken.diagnostics]
    assert any("IMPLICIT_BENEFICIARY" in w and "'referral_reward'" in w for w in warnings), warnings
    failures = [f for r in asyncio.run(run_cases(broken)) for f in r.failures]
    to_invitee = [f for f in failures if "offer referral_reward goes to" in f]
    assert to_invitee, failures
    assert "goes to o_friend1 (the event's customer), expected o_mum1" in " ".join(to_invitee)
