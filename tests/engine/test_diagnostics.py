"""Every diagnostic code has a bad-rule fixture beside its expected output."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.compile.pack import compile_files, compile_path
from engine.diagnostics import Code
from engine.egress.policy import WebhookPolicy

FIXTURES = Path(__file__).parent / "fixtures" / "diagnostics"
TODAY = date(2026, 11, 23)
CASES = sorted(p.stem for p in FIXTURES.glob("*.expected"))


@pytest.mark.parametrize("name", CASES)
def test_fixture_reports_exactly_its_expected_diagnostics(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    target = name if (FIXTURES / name).is_dir() else f"{name}.yaml"
    tenants = sorted((FIXTURES / name / "tenants").glob("*"))  # a layered fixture: its one tenant on its base
    base, target = (target, f"{name}/tenants/{tenants[0].name}") if tenants else (None, target)
    ruleset, diagnostics = compile_path(target, today=TODAY, webhook_policy=WebhookPolicy(), base=base)
    expected = (FIXTURES / f"{name}.expected").read_text(encoding="utf-8").splitlines()
    assert [d.render() for d in diagnostics] == [line for line in expected if line]
    if any(d.is_error for d in diagnostics):
        assert ruleset is None, "a pack with errors must never compile"
    else:
        assert ruleset is not None


def test_every_code_has_a_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    seen = set()
    for name in CASES:
        seen.update(
            line.split()[1] for line in (FIXTURES / f"{name}.expected").read_text(encoding="utf-8").splitlines() if line
        )
    _, empty = compile_files({})
    seen.update(d.code.value for d in empty)
    assert set(Code) - {Code(c) for c in seen} == set()


def test_empty_pack_is_refused() -> None:
    ruleset, diagnostics = compile_files({})
    assert ruleset is None
    assert [d.code for d in diagnostics] == [Code.EMPTY_PACK]


def test_fixture_names_match_their_codes() -> None:
    for name in CASES:
        lines = (FIXTURES / f"{name}.expected").read_text(encoding="utf-8").splitlines()
        assert name.upper() in {line.split()[1] for line in lines if line}, name


def test_diagnostics_are_sorted_by_location_across_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    _, diagnostics = compile_path("duplicate_id", today=TODAY)
    locations = [(d.location.file, d.location.line, d.location.col) for d in diagnostics]
    assert locations == sorted(locations)
    assert all(d.location.file == "duplicate_id/b_signup.yaml" for d in diagnostics)


def test_a_file_that_does_not_parse_is_reported_first_without_the_errors_it_causes() -> None:
    """One bad indent in tiers.yaml: the syntax error first, no UNKNOWN_TIER for the tiers it held (issue 16)."""
    ruleset, diagnostics = compile_path(FIXTURES.parent / "dropped_file", today=TODAY)
    assert ruleset is None
    codes = [d.code for d in diagnostics]
    assert codes[0] is Code.YAML_SYNTAX and diagnostics[0].location.file.endswith("tiers.yaml")
    assert Code.UNKNOWN_TIER not in codes and Code.NO_DEFAULT_TIER not in codes and Code.UNUSED_FEATURE not in codes
    assert "wait until it parses" in diagnostics[0].message
    # what the dropped file cannot explain is still reported: a misspelt policy, with its did-you-mean
    policy = next(d for d in diagnostics if d.code is Code.INVALID_VALUE)
    assert policy.location.line == 5 and "(did you mean 'best_for_customer'?)" in policy.message


def test_once_the_file_parses_its_names_resolve() -> None:
    files = {p.name: p.read_text(encoding="utf-8") for p in (FIXTURES.parent / "dropped_file").glob("*.yaml")}
    files["tiers.yaml"] = files["tiers.yaml"].replace("   - {id: occasional", "  - {id: occasional")
    files["pack.yaml"] = files["pack.yaml"].replace("best_for_custmer", "best_for_customer")
    ruleset, diagnostics = compile_files(files, today=TODAY)
    assert ruleset is not None, [d.render() for d in diagnostics]
