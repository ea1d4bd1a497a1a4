"""The tenants benchmark runs (3 tenants, small packs) and the directory it serves is a valid layered deployment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.compile.pack import compile_path
from ops.bench import tenants


def test_the_engine_bench_holds_every_tenants_pack_and_reports_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert tenants.main(["engine", "--tenants", "3", "--rules", "10", "--events", "100", "--rounds", "1"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["tenants"] == 3 and figures["backend"] == "python"
    assert figures["compile_ms_median"] > 0 and figures["eval_us_one_of_many"] > 0 and figures["eval_ratio"] > 0


def test_the_http_bench_writes_one_base_and_a_layered_pack_per_tenant(tmp_path: Path) -> None:
    rules = tenants.write_rules(tmp_path, 3, 10)
    versions = set()
    for index in range(3):
        ruleset, diagnostics = compile_path(rules / "tenants" / f"t{index}", base=rules)
        assert ruleset is not None, [d.render() for d in diagnostics if d.is_error]
        assert len(ruleset.rules) == 10
        versions.add(ruleset.version)
    assert len(versions) == 3  # a pack of its own per tenant
    alone, _ = compile_path(rules)
    assert alone is not None and alone.rules == ()
