"""A pack inside the text limits but heavy per event: how many conditions and features it may hold.

The attack (red team, session 7): a tenant's admin uploads a valid pack of 20,000 count
features and rules (split over files under the 2 MB and node limits); every one of its
events then cost ~8 ms of the shared Redis and ~100 ms of a shared worker. Past the budget
the pack does not compile (``LIMIT_EXCEEDED`` at the first item over it), so it never runs.
"""

from __future__ import annotations

from engine.compile.pack import compile_files
from engine.compile.size_budget import MAX_CONDITIONS, MAX_FEATURES, MAX_OFFERS

HEAD = """pack: {name: t, timezone: Asia/Shanghai}
tiers: [{id: everyone, default: true}]
decision: {review_at: 40, deny_at: 70}
"""


def heavy(features: int, rules: int) -> dict[str, str]:
    """``rules`` rules on sign-ups, each reading one of ``features`` count features (one file each)."""
    declared = "\n".join(
        f"  customer.c{i}: {{count: [signup], by: customer, window: {i + 2}m}}" for i in range(features)
    )
    written = "\n".join(
        f"  - {{id: r{i}, code: {i + 1}, on: [signup], when: customer.c{i % features} > 5, score: 1,"
        " reason: {zh: 多, en: many}}"
        for i in range(rules)
    )
    return {"pack.yaml": HEAD, "features.yaml": f"features:\n{declared}\n", "rules.yaml": f"rules:\n{written}\n"}


def limits(files: dict[str, str]) -> list[str]:
    ruleset, diagnostics = compile_files(files)
    found = [d.render() for d in diagnostics if d.code.value == "LIMIT_EXCEEDED"]
    assert (ruleset is None) == bool(found), found
    return found


def test_a_pack_at_the_budget_compiles() -> None:
    assert limits(heavy(MAX_FEATURES, MAX_CONDITIONS)) == []


def test_one_feature_past_the_budget_is_named_at_its_line() -> None:
    found = limits(heavy(MAX_FEATURES + 1, MAX_FEATURES + 1))
    assert len(found) == 1
    assert found[0].startswith(f"features.yaml:{MAX_FEATURES + 2}:3 LIMIT_EXCEEDED feature 'customer.c{MAX_FEATURES}'")
    assert f"more than {MAX_FEATURES}" in found[0]


def test_one_condition_past_the_budget_is_named_at_its_rule() -> None:
    found = limits(heavy(10, MAX_CONDITIONS + 1))
    assert len(found) == 1
    assert found[0].startswith(f"rules.yaml:{MAX_CONDITIONS + 2}:") and f"rule:r{MAX_CONDITIONS}" in found[0], found


def offered(count: int) -> dict[str, str]:
    written = "\n".join(
        f"  - {{id: o{i}, label: x, tiers: [everyone], on: [signup], effect: {{type: points, value: 1}},"
        " value_yuan: 1, beneficiary: customer}"
        for i in range(count)
    )
    return {"pack.yaml": HEAD, "offers.yaml": f"offers:\n{written}\n"}


def test_offers_past_the_budget_are_named_at_the_first_over_it() -> None:
    assert limits(offered(MAX_OFFERS)) == []
    found = limits(offered(MAX_OFFERS + 1))
    assert (
        len(found) == 1 and found[0].startswith(f"offers.yaml:{MAX_OFFERS + 2}:") and f"offer:o{MAX_OFFERS}" in found[0]
    )
