"""Scores, decisions, tiers and offers from the compiled model (python backend)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.backends import BackendKind
from engine.evaluation import Evaluator
from engine.events import Event
from engine.model import Decision
from engine.pack.loader import read_pack_files
from engine.rule_engine import LoadedRuleSet, prepare

PACK = Path(__file__).parent / "packs" / "studio"


@pytest.fixture(scope="module")
def loaded() -> LoadedRuleSet:
    return prepare(read_pack_files(PACK), BackendKind.PYTHON)


def evaluate(loaded: LoadedRuleSet, features: dict[str, Any] | None = None, **fields: Any):  # type: ignore[no-untyped-def]
    fields.setdefault("event_id", "e1")
    fields.setdefault("customer", "c1")
    fields.setdefault("timestamp", datetime.fromisoformat("2026-11-10T21:00:00+08:00"))
    return loaded.evaluate(Event(**fields), features or {})


def test_honest_newcomer_is_allowed_and_gets_the_best_entry_offer(loaded: LoadedRuleSet) -> None:
    result = evaluate(loaded, {"device.accounts_24h": 1}, type="signup", device="d1", phone="13812345678")
    assert (result.decision, result.score, result.reasons, result.tier) == (Decision.ALLOW, 0, (), "occasional")
    assert [o.id for o in result.offers] == ["trial_99"]
    assert [o.id for o in result.eligible] == ["trial_99", "newcomer_coupon"]
    assert ("newcomer_coupon", "exclusive") in {(w.offer, w.why) for w in result.withheld}


def test_scores_add_up_and_carry_the_values_that_triggered_them(loaded: LoadedRuleSet) -> None:
    result = evaluate(loaded, {"device.accounts_24h": 6}, type="signup", device="d1", phone="17012345678")
    assert result.score == 90 and result.decision is Decision.DENY
    assert {r.rule: r.values for r in result.reasons} == {
        "device_farm": {"device.accounts_24h": 6},
        "virtual_phone": {"phone.segment": "170"},
    }
    assert result.offers == ()
    assert {w.why for w in result.withheld if w.offer == "trial_99"} == {"risk"}


def test_deny_override_wins_even_at_zero_score(loaded: LoadedRuleSet) -> None:
    result = evaluate(loaded, {"device.blocked": True}, type="order", device="d9")
    assert (result.score, result.decision) == (0, Decision.DENY)


def test_allow_override_beats_thresholds_and_score_is_clamped_at_zero(loaded: LoadedRuleSet) -> None:
    result = evaluate(
        loaded, {"customer.allowed": True, "device.accounts_24h": 9}, type="signup", device="d1", phone="17012345678"
    )
    assert result.decision is Decision.ALLOW
    assert result.score == 40  # 60 + 30 - 50
    blocked = evaluate(loaded, {"customer.allowed": True, "device.blocked": True}, type="signup", device="d1")
    assert blocked.decision is Decision.DENY and blocked.score == 0


def test_shadow_rules_are_reported_but_never_change_the_decision(loaded: LoadedRuleSet) -> None:
    features = {"referrer.invitees_7d": 10, "referrer.invitee_devices_7d": 2}
    result = evaluate(loaded, features, type="referral", device="d1", referrer="r1")
    assert [r.rule for r in result.shadow] == ["invitee_devices_concentrated"]
    assert (result.score, result.decision, result.reasons) == (0, Decision.ALLOW, ())
    assert result.shadow_decision is Decision.REVIEW


def test_division_by_zero_is_missing_so_the_rule_does_not_fire(loaded: LoadedRuleSet) -> None:
    result = evaluate(
        loaded, {"referrer.invitees_7d": 0, "referrer.invitee_devices_7d": 0}, type="referral", referrer="r1"
    )
    assert result.shadow == ()


def test_missing_attribute_never_fires_a_comparison_but_not_exists_does(loaded: LoadedRuleSet) -> None:
    no_attribute = evaluate(loaded, type="red_packet_claim", device="d1")
    assert no_attribute.reasons == ()
    bot = evaluate(loaded, type="red_packet_claim", attributes={"claim_ms": 120})
    assert [r.rule for r in bot.reasons] == ["bot_claim", "unknown_device_claim"]
    assert bot.decision is Decision.DENY
    wrong_type = evaluate(loaded, type="red_packet_claim", device="d1", attributes={"claim_ms": "fast"})
    assert wrong_type.reasons == ()


def test_off_rules_are_not_evaluated(loaded: LoadedRuleSet) -> None:
    result = evaluate(loaded, type="signup", amount=100.0)
    assert "retired" not in result.rule_ids
    assert "retired" not in {r.id for r in loaded.ruleset.rules}
    assert "retired" in {r.id for r in loaded.ruleset.all_rules}


@pytest.mark.parametrize(
    ("features", "tier"),
    [
        ({"customer.spend_365d": 8000, "customer.orders_365d": 1}, "important"),
        ({"customer.spend_365d": 800, "customer.orders_365d": 3}, "regular"),
        ({"customer.orders_365d": 1}, "occasional"),
        ({}, "occasional"),
    ],
)
def test_first_matching_tier_wins(loaded: LoadedRuleSet, features: dict[str, Any], tier: str) -> None:
    assert evaluate(loaded, features, type="order").tier == tier


def test_important_customers_get_privileges_not_discounts(loaded: LoadedRuleSet) -> None:
    result = evaluate(loaded, {"customer.spend_365d": 12000}, type="signup")
    assert [o.id for o in result.offers] == ["vip_advisor"]
    assert result.offers[0].effect.type == "privilege"


@pytest.mark.parametrize(
    ("moment", "granted"),
    [
        ("2026-11-10T21:00:00+08:00", True),
        ("2026-11-10T13:00:00+00:00", True),  # 21:00 in Shanghai
        ("2026-11-10T19:59:00+08:00", False),
        ("2026-12-01T21:00:00+08:00", False),
    ],
)
def test_offer_time_windows_use_the_pack_time_zone(loaded: LoadedRuleSet, moment: str, granted: bool) -> None:
    result = evaluate(loaded, type="red_packet_claim", device="d1", timestamp=datetime.fromisoformat(moment))
    assert ("night_red_packet" in [o.id for o in result.offers]) is granted


def test_version_is_a_content_hash(loaded: LoadedRuleSet) -> None:
    files = read_pack_files(PACK)
    again = prepare(files, BackendKind.PYTHON)
    changed = prepare({k: v.replace("score: 60", "score: 61") for k, v in files.items()}, BackendKind.PYTHON)
    assert again.ruleset.version == loaded.ruleset.version
    assert changed.ruleset.version != loaded.ruleset.version


def test_feature_plan_holds_only_what_live_conditions_read(loaded: LoadedRuleSet) -> None:
    plan = {event_type: {s.name for s in specs} for event_type, specs in loaded.ruleset.feature_plan.items()}
    assert plan["red_packet_claim"] == {"customer.spend_365d", "customer.orders_365d"}
    assert "referrer.invitees_7d" in plan["referral"] and "referrer.invitees_7d" not in plan["signup"]
    assert "device.blocked" in plan["order"]


def test_record_plan_adds_what_each_event_type_feeds(loaded: LoadedRuleSet) -> None:
    plan = {event_type: [s.name for s in specs] for event_type, specs in loaded.ruleset.record_plan.items()}
    # fed, though nothing reads them there; device.accounts_24h has no `on:`, so every event feeds it
    assert sorted(plan["order_paid"]) == ["customer.orders_365d", "customer.spend_365d", "device.accounts_24h"]
    reads = [s.name for s in loaded.ruleset.feature_plan["referral"]]
    assert plan["referral"][: len(reads)] == reads  # reads first, in order
    assert {"device.accounts_24h", "referrer.invitees_7d"} <= set(plan["referral"])
    assert "referrer.invitees_7d" not in plan["signup"]  # a signup feeds no referral graph


@pytest.mark.parametrize(
    ("groups", "eligible", "granted"),
    [
        # a group split by a higher-priority offer of another group still ranks together
        (["g", "h", "g"], ["a", "c", "b"], ["a", "b"]),
        (["g", None, None], ["a", "b", "c"], ["a", "b", "c"]),
        (["g", "h", "k"], ["a", "b", "c"], ["a", "b", "c"]),
    ],
)
def test_offers_rank_by_priority_within_their_group(
    loaded: LoadedRuleSet, groups: list[str | None], eligible: list[str], granted: list[str]
) -> None:
    template = next(o for o in loaded.ruleset.offers if o.id == "newcomer_coupon")
    offers = tuple(
        replace(template, id=offer_id, exclusive_group=group, priority=priority)
        for offer_id, group, priority in zip("abc", groups, (10, 5, 1), strict=True)
    )
    evaluator = Evaluator(replace(loaded.ruleset, offers=offers))
    result = evaluator.decide(
        event_type="signup", timestamp=datetime.fromisoformat("2026-11-10T21:00:00+08:00"), matched=[], facts={}
    )
    assert [o.id for o in result.eligible] == eligible
    assert [o.id for o in result.offers] == granted
    assert [w.offer for w in result.withheld if w.why == "exclusive"] == sorted(set("abc") - set(granted))
