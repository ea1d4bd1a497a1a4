"""``yutang test`` runs a pack's stateful scenarios (issue 16) through the API, on their own clock.

Real parts: the app ``yutang serve`` runs, a throw-away embedded Redis, both backends,
the shipped pack and the offers-in-depth pack. Each check here can fail: a wrong
expectation must FAIL at its file:line:col with expected against actual.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from api.scenarios.runner import run_scenarios
from engine.cli import main
from engine.compile.pack import compile_path

ROOT = Path(__file__).parents[2]
OFFERS_PACK = Path(__file__).parent / "packs" / "offers"
HERE = Path(__file__).parent / "scenarios"

GREENS = """
pack: {name: greens, timezone: Asia/Shanghai}
tiers: [{id: regular, label: 常规型, default: true}]
rules:
  - {id: blocked_device, code: 1, on: [signup], when: device.blocked, score: 90,
     reason: {zh: 黑名单设备, en: blocked device}}
offers:
  - {id: first_box, label: 首单鲜果箱, tiers: [regular], on: [signup], effect: {type: coupon, value: 20},
     budget: {total: 5, per_customer: 1}}
journeys:
  - id: greens
    start: new
    stages: {new: {label: 新客}, buyer: {label: 已下单}, lapsed: {label: 流失}}
    transitions:
      - {from: [new, lapsed], on: [order_paid], to: buyer, actions: [{tag: first_box}]}
    timeouts:
      - {id: quiet_week, in: [buyer], silent: 7d, to: lapsed}
scenarios:
  - name: a blocked device is denied until the entry is lifted
    customer: aunt_li
    steps:
      - list: {entity: device, value: dv-bad, kind: block, reason: farm}
      - score: {type: signup, device: dv-bad}
        expect: {decision: deny, reasons: [blocked_device], withheld: {first_box: risk}}
      - list: {entity: device, value: dv-bad, kind: block, remove: true}
      - score: {type: signup, device: dv-bad}
        expect: {decision: allow, offers: [first_box]}
  - name: the same customer in another scenario starts afresh
    customer: aunt_li
    steps:
      - score: {type: signup, device: dv-good}
        expect: {decision: allow, offers: [first_box], remaining: {first_box: 4}, journey: {greens: new}}
      - outcome: {type: order_paid, amount: 39}
        expect: {journey: {greens: buyer}, tags: [first_box]}
      - advance: 6d
        expect: {journey: {greens: buyer}}
      - advance: 2d
        expect: {journey: {greens: lapsed}}
"""


def pack_dir(tmp_path: Path, text: str) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "pack.yaml").write_text(text, encoding="utf-8")
    return rules


@pytest.mark.parametrize("backend", ["python", "durable"])
async def test_the_shipped_packs_scenarios_pass(backend: str) -> None:
    ruleset, diagnostics = compile_path(ROOT / "rules")
    assert ruleset is not None and ruleset.scenarios, [d.render() for d in diagnostics]
    results = await run_scenarios(ROOT / "rules", backend, ruleset.scenarios)
    failures = [(r.scenario.name, s.location.render(), s.failures) for r in results for s in r.steps if s.failures]
    assert failures == []


async def test_group_buys_reservations_and_stacking_through_scenarios(tmp_path: Path) -> None:
    rules = tmp_path / "offers"
    shutil.copytree(OFFERS_PACK, rules)
    shutil.copy(HERE / "offers_scenarios.yaml", rules / "scenarios.yaml")
    ruleset, diagnostics = compile_path(rules)
    assert ruleset is not None, [d.render() for d in diagnostics]
    results = await run_scenarios(rules, "python", ruleset.scenarios)
    assert [(s.location.render(), s.failures) for r in results for s in r.steps if s.failures] == []
    assert [len(r.steps) for r in results] == [5, 4, 1]


async def test_list_changes_apply_and_scenarios_are_isolated(tmp_path: Path) -> None:
    rules = pack_dir(tmp_path, GREENS)
    ruleset, diagnostics = compile_path(rules)
    assert ruleset is not None, [d.render() for d in diagnostics]
    results = await run_scenarios(rules, "python", ruleset.scenarios)
    assert [r.passed for r in results] == [True, True], [s.failures for r in results for s in r.steps]


def test_a_wrong_expectation_fails_at_its_place_with_expected_and_actual(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = GREENS.replace("expect: {decision: allow, offers: [first_box]}", "expect: {decision: review}")
    rules = pack_dir(tmp_path, wrong)
    junit = tmp_path / "results.xml"
    assert main(["test", str(rules), "--backend", "python", "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL scenario a blocked device is denied until the entry is lifted  ({rules}/pack.yaml:19:5)" in out
    assert f"FAIL step 4 score  ({rules}/pack.yaml:26:9)" in out
    assert "decision: expected 'review', got 'allow'" in out
    assert "PASS scenario the same customer in another scenario starts afresh" in out
    assert out.splitlines()[-1].startswith("0 passed, 0 failed, 0 cases; 1 passed, 1 failed, 2 scenarios (8 steps)")
    suite = ET.parse(junit).getroot().find("testsuite[@name='scenarios']")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("8", "1")


def test_scenario_names_are_checked_with_did_you_mean(tmp_path: Path) -> None:
    bad = (
        GREENS.replace("reasons: [blocked_device]", "reasons: [blocked_devise]")
        .replace("offers: [first_box]}", "offers: [first_bx]}", 1)
        .replace(
            "{entity: device, value: dv-bad, kind: block, reason", "{entity: devise, value: dv-bad, kind: block, why"
        )
    )
    bad = bad.replace("kind: block, why", "kind: block, reason")
    ruleset, diagnostics = compile_path(pack_dir(tmp_path, bad))
    assert ruleset is None
    rendered = [d.render().split(f"{tmp_path}/rules/")[1] for d in diagnostics]
    assert any("UNKNOWN_RULE" in line and "(did you mean 'blocked_device'?)" in line for line in rendered), rendered
    assert any("UNKNOWN_OFFER" in line and "(did you mean 'first_box'?)" in line for line in rendered), rendered
    assert any("UNKNOWN_ENTITY" in line and "(did you mean 'device'?)" in line for line in rendered), rendered


SHADOWED = GREENS.replace(
    "rules:\n",
    "rules:\n"
    "  - {id: watched_device, code: 2, on: [signup], when: device.blocked, score: 10, mode: shadow,\n"
    "     reason: {zh: 观察设备, en: watched device}}\n"
    "  - {id: never_fires, code: 3, on: [order], when: device.blocked, score: 10, mode: shadow,\n"
    "     reason: {zh: 不会触发, en: never fires}}\n",
).replace(
    "expect: {decision: deny, reasons: [blocked_device], withheld: {first_box: risk}}",
    "expect: {decision: deny, reasons: [blocked_device], shadow: [watched_device], withheld: {first_box: risk}}",
)


async def test_a_scenario_step_expects_the_shadow_rules_that_fire(tmp_path: Path) -> None:
    ruleset, diagnostics = compile_path(pack_dir(tmp_path, SHADOWED))
    assert ruleset is not None, [d.render() for d in diagnostics]
    results = await run_scenarios(tmp_path / "rules", "python", ruleset.scenarios)
    assert [r.passed for r in results] == [True, True], [s.failures for r in results for s in r.steps]
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    ruleset, diagnostics = compile_path(
        pack_dir(wrong, SHADOWED.replace("shadow: [watched_device]", "shadow: [never_fires]"))
    )
    assert ruleset is not None, [d.render() for d in diagnostics]
    results = await run_scenarios(wrong / "rules", "python", ruleset.scenarios)
    failures = [f for r in results for s in r.steps for f in s.failures]
    assert failures == ["shadow: shadow rules ['never_fires'] did not fire (shadow hits: ['watched_device'])"]


def test_a_scenario_expecting_shadow_on_an_unknown_rule_names_it(tmp_path: Path) -> None:
    bad = SHADOWED.replace("shadow: [watched_device]", "shadow: [watched_devise]")
    ruleset, diagnostics = compile_path(pack_dir(tmp_path, bad))
    assert ruleset is None
    rendered = [d.render() for d in diagnostics]
    assert any("UNKNOWN_RULE" in line and "(did you mean 'watched_device'?)" in line for line in rendered), rendered


def test_an_unknown_field_never_suggests_its_own_name(tmp_path: Path) -> None:
    # 'beneficiaries' is a field of a case's expect, not of a scenario step's: no "did you mean 'beneficiaries'"
    bad = GREENS.replace(
        "expect: {decision: allow, offers: [first_box]}",
        "expect: {decision: allow, beneficiaries: {first_box: aunt_li}}",
    ).replace("expect: {journey: {greens: lapsed}}", "expect: {jouney: {greens: lapsed}}")
    ruleset, diagnostics = compile_path(pack_dir(tmp_path, bad))
    assert ruleset is None
    rendered = [d.render().split(f"{tmp_path}/rules/")[1] for d in diagnostics]
    assert [line for line in rendered if "UNKNOWN_FIELD" in line] == [
        "pack.yaml:27:35 UNKNOWN_FIELD unknown field 'beneficiaries' in scenario 'a blocked device is denied until the "
        "entry is lifted'",
        "pack.yaml:38:18 UNKNOWN_FIELD unknown field 'jouney' in scenario 'the same customer in another scenario "
        "starts afresh' (did you mean 'journey'?)",
    ]
