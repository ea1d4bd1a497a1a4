"""The growth benches serve what they claim (N rules; tenants on the base or layered); the profile sorts right.

One end-to-end run of the rule-growth bench (one small pack, python backend, a few dozen
requests through a real ``yutang serve``) checks the measuring path itself: every request
answered 200, CPU per request read from the workers and Redis, the JSON line last.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.compile.pack import compile_path
from ops.bench import growth_rules, growth_tenants
from ops.bench.parts.profile_parts import PHASES, attribute, part_of, read_raw

STORE = "FeatureStore.record_and_read (engine/features/store.py:120)"
ROUTE = "score_request (api/scoring/story.py:40)"
WRITELINES = "StreamWriter.writelines (asyncio/streams.py:340)"


@pytest.mark.parametrize("size", [7, 60])
def test_the_rule_growth_pack_has_the_rules_it_is_named_for(tmp_path: Path, size: int) -> None:
    ruleset, diagnostics = compile_path(growth_rules.write_pack(tmp_path, size))
    assert ruleset is not None, [d.render() for d in diagnostics if d.is_error]
    assert len(ruleset.rules) == size


def test_tenants_with_a_layer_run_the_base_and_their_own_rules_and_the_rest_run_the_base(tmp_path: Path) -> None:
    rules = growth_tenants.write_rules(tmp_path, rules=12, own=3, tenant_rules=5)
    base, _ = compile_path(rules)
    assert base is not None and len(base.rules) == 12
    versions = {base.version}
    for index in range(3):
        ruleset, diagnostics = compile_path(rules / "tenants" / f"t{index}", base=rules)
        assert ruleset is not None, [d.render() for d in diagnostics if d.is_error]
        assert len(ruleset.rules) == 17
        versions.add(ruleset.version)
    assert len(versions) == 4  # every tenant's set is its own
    assert growth_tenants.keys(3).count(":score") == 3


def test_a_sample_goes_to_the_innermost_part_and_generic_frames_only_as_a_fallback() -> None:
    under_redis = [ROUTE, STORE, "Pipeline.execute (redis/asyncio/client.py:1500)", WRITELINES]
    assert part_of(under_redis).startswith("redis-py")
    assert part_of([ROUTE, STORE]).startswith("feature-store")
    assert part_of([ROUTE, STORE, "new (hmac.py:180)"]) == "HMAC of identities"
    assert part_of(["Server.run (uvicorn/server.py:86)", "Runner.run (asyncio/runners.py:118)"]).startswith(
        "event loop's own run"
    )
    assert part_of(["Thread.run (threading.py:975)", WRITELINES]).startswith("event loop, threads")
    assert part_of(["mystery (somewhere.py:1)"]) == "other"


def test_phases_are_inclusive_and_samples_outside_the_route_are_counted_apart(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        f'process 1:"python -m engine.cli serve";{ROUTE};{STORE};Pipeline.execute (redis/asyncio/client.py:1) 3\n'
        f'process 1:"python -m engine.cli serve";{ROUTE};_send (api/scoring/hot.py:80) 2\n'
        'process 1:"python -m engine.cli serve";Runner.run (asyncio/runners.py:118) 5\n',
        encoding="utf-8",
    )
    samples = read_raw(raw)
    assert [count for _, count in samples] == [3, 2, 5] and not any("process" in f for f, _ in samples)
    parts, phases, total = attribute(samples)
    named = {phase.name.strip(): phases[phase.name] for phase in PHASES}
    assert total == 10 and sum(parts.values()) == 10
    assert named["the /v1/score route, whole"] == 5
    assert named["feature round trips (record + read, links)"] == 3
    assert named["sending the answer"] == 2
    assert named["outside any request (loop, parsing, background)"] == 5


def test_the_rule_growth_bench_measures_a_real_server_and_ends_with_its_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--sizes", "8", "--backends", "python", "--events", "40", "--warmup", "8", "--connections", "4",
            "--rounds", "1", "--no-floor"]  # fmt: skip
    assert growth_rules.main(argv) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["errors"] == 0
    assert figures["python_8_rps"] > 0 and figures["python_8_worker_us"] > 0 and figures["python_8_redis_us"] > 0
    assert figures["python_8_startup_s"] > 0 and figures["python_worker_growth"] == 1.0
    assert 0 < figures["python_8_eval_us"] < figures["python_8_worker_us"]  # read from the server's /metrics
