"""A tenant's pack on the platform's base: what it may add and override, and what is a conflict."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.backends import BackendKind
from engine.compile.pack import compile_files
from engine.diagnostics import Code
from engine.evaluation import Evaluation
from engine.events import Event
from engine.pack.loader import read_pack_files
from engine.rule_engine import prepare

BASE = read_pack_files(Path(__file__).parents[1] / "api" / "packs" / "small")
FARM = {"device.accounts_24h": 3}
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def score(
    files: dict[str, str], tenant: dict[str, str] | None, features: dict[str, object], **fields: object
) -> Evaluation:
    loaded = prepare(files, BackendKind.PYTHON, tenant_files=tenant)
    event = Event.model_validate({"event_id": "e1", "type": "signup", "customer": "c1", "timestamp": NOW, **fields})
    return loaded.evaluate(event, features)


def test_a_tenant_without_a_pack_runs_the_base_and_an_override_changes_only_the_fields_it_names() -> None:
    base = score(BASE, None, FARM)
    assert base.score == 80 and [r.rule for r in base.reasons] == ["device_farm"]
    tenant = {"shop.yaml": "rules:\n  - {id: device_farm, override: true, score: 30}\n"}
    tuned = score(BASE, tenant, FARM)
    assert tuned.score == 30 and tuned.decision.value == "allow"
    stricter = {"shop.yaml": "rules:\n  - {id: device_farm, override: true, when: device.accounts_24h >= 5}\n"}
    assert score(BASE, stricter, FARM).score == 0
    assert score(BASE, stricter, {"device.accounts_24h": 5}).score == 80


def test_off_switches_a_base_rule_off_and_the_versions_differ() -> None:
    off = {"shop.yaml": "rules:\n  - {id: device_farm, override: true, mode: 'off'}\n"}
    ruleset, diagnostics = compile_files(BASE, tenant_files=off)
    alone, _ = compile_files(BASE)
    assert ruleset is not None and alone is not None and not [d for d in diagnostics if d.is_error]
    assert "device_farm" not in {r.id for r in ruleset.rules} and "device_farm" in {r.id for r in alone.rules}
    assert ruleset.version != alone.version
    assert score(BASE, off, FARM).score == 0


def test_a_tenant_adds_rules_tiers_offers_lists_and_its_thresholds() -> None:
    tenant = {
        "shop.yaml": """
decision: {review_at: 20, deny_at: 90}
lists:
  vip_campaigns: [summer_vip]
tiers:
  - {id: summer, label: 夏季会员, when: 'event.campaign in lists.vip_campaigns'}
rules:
  - id: summer_signup
    code: 9001
    on: [signup]
    when: 'event.campaign == "summer_vip"'
    score: 25
    reason: {zh: 夏季活动, en: summer campaign}
"""
    }
    result = score(BASE, tenant, {}, campaign="summer_vip")
    assert result.score == 25 and result.decision.value == "review"
    assert result.tier == "summer"  # the tenant's tier is checked before the base's
    assert score(BASE, None, {}, campaign="summer_vip").score == 0


def test_a_reused_id_or_a_missing_override_is_a_diagnostic_at_the_tenants_line() -> None:
    tenant = {
        "tenants/acme/shop.yaml": (
            "rules:\n"
            "  - {id: device_farm, code: 9002, on: [signup], when: 'device.accounts_24h >= 9', score: 10,"
            " reason: {zh: x, en: x}}\n"
            "  - {id: device_frm, override: true, score: 5}\n"
        )
    }
    ruleset, diagnostics = compile_files(BASE, tenant_files=tenant)
    assert ruleset is None
    found = [(d.code, d.location.file, d.location.line) for d in diagnostics if d.is_error]
    assert found == [
        (Code.LAYER_CONFLICT, "tenants/acme/shop.yaml", 2),
        (Code.OVERRIDE_MISSING, "tenants/acme/shop.yaml", 3),
    ]
    assert "did you mean 'device_farm'" in diagnostics[-1].message


def test_a_tenant_pack_with_its_own_pack_section_stands_alone() -> None:
    alone = {
        "mine.yaml": "pack: {name: own}\ntiers: [{id: all, default: true}]\n"
        "rules:\n  - {id: r1, code: 1, on: [signup], when: 'event.amount > 5', score: 10, reason: {zh: x, en: x}}\n"
    }
    ruleset, _ = compile_files(BASE, tenant_files=alone)
    assert ruleset is not None and ruleset.name == "own" and [r.id for r in ruleset.rules] == ["r1"]


def test_seed_lists_of_both_layers_and_only_the_tenants_own_tests() -> None:
    tenant = {
        "shop.yaml": """
seed_lists:
  - {entity: customer, value: known_farmer, kind: block, reason: the shop's own block}
tests:
  - name: tuned farm
    steps:
      - event: {type: signup, device: d1}
        features: {device.accounts_24h: 3}
        expect: {decision: deny}
"""
    }
    ruleset, _ = compile_files(BASE, tenant_files=tenant)
    assert ruleset is not None
    assert {(s.entity, s.value) for s in ruleset.seed_lists} == {
        ("device", "seeded-farm-device"),
        ("customer", "known_farmer"),
    }
    assert [case.name for case in ruleset.tests] == ["tuned farm"]
