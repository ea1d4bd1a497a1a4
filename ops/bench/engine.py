#!/usr/bin/env python3
"""Engine benchmark: both backends, zen-engine and rule-engine, on the same rules and events.

    python ops/bench/engine.py [--evaluations 1000000] [--sizes 20,100,500] [--rules rules]

What is timed: ``matcher.match(event_type, facts)`` on facts built beforehand
(``engine.facts.build_facts``), one call per event, perf_counter_ns around each
call: the match pass over every rule, tier and offer condition, which is what the
peers do too. ``+decide`` adds ``Evaluator.decide`` (score, decision, tier,
offers) for our backends. Before timing, every engine's match set is compared with
the python backend's on every input. Memory: RSS before and after
``--evaluations`` evaluations per pack and backend (same process, after warm-up).
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.backends import BackendKind, build_matcher
from engine.compile.pack import compile_files
from engine.evaluation import Evaluator
from engine.facts import build_facts
from engine.model import CompiledRuleSet
from engine.pack.loader import read_pack_files
from engine.rule_engine import backend_checks
from ops.bench.parts.engine_packs import generate_inputs, generate_pack
from ops.bench.parts.engine_peers import Unsupported, build_rule_engine, build_zen

Input = tuple[str, Any, dict[str, Any]]  # event type, timestamp, facts
Match = Callable[[str, Mapping[str, Any]], list[str]]


def compile_pack(files: Mapping[str, str]) -> CompiledRuleSet:
    ruleset, diagnostics = compile_files(files, checks=backend_checks(BackendKind.DURABLE))
    if ruleset is None:
        raise SystemExit("\n".join(d.render() for d in diagnostics if d.is_error))
    return ruleset


def prepared_inputs(ruleset: CompiledRuleSet, count: int) -> list[Input]:
    evaluator = Evaluator(ruleset)
    inputs = []
    for event, features in generate_inputs(count, sorted(ruleset.features)):
        facts = build_facts(
            event, features, feature_specs=ruleset.features, attributes=ruleset.attributes, zone=evaluator.zone
        )
        inputs.append((event.type, event.timestamp, facts))
    return inputs


def latencies(call: Callable[[str, Any, dict[str, Any]], object], inputs: Sequence[Input], samples: int) -> list[float]:
    clock = time.perf_counter_ns
    for event_type, timestamp, facts in inputs[: min(len(inputs), 300)]:
        call(event_type, timestamp, facts)
    out: list[float] = []
    gc.collect()
    gc.disable()
    try:
        while len(out) < samples:
            for event_type, timestamp, facts in inputs:
                start = clock()
                call(event_type, timestamp, facts)
                out.append((clock() - start) / 1000)
    finally:
        gc.enable()
    return out[:samples]


def summary(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99)]


def rss_run(match: Match, inputs: Sequence[Input], evaluations: int) -> tuple[float, float]:
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss / 2**20
    count = len(inputs)
    for i in range(evaluations):
        event_type, _, facts = inputs[i % count]
        match(event_type, facts)
    gc.collect()
    return before, process.memory_info().rss / 2**20


def bench_pack(label: str, ruleset: CompiledRuleSet, args: argparse.Namespace) -> dict[str, Any]:
    inputs = prepared_inputs(ruleset, args.inputs)
    evaluator = Evaluator(ruleset)
    matchers: dict[str, Match] = {}
    ours = {kind.value: build_matcher(kind, ruleset) for kind in (BackendKind.PYTHON, BackendKind.DURABLE)}
    matchers.update({k: m.match for k, m in ours.items()})
    for name, build in (("zen", build_zen), ("rule_engine", build_rule_engine)):
        try:
            matchers[name] = build(ruleset.predicates)
        except Unsupported as err:
            print(f"  {name}: skipped, no faithful spelling for {err}")
    expected = [matchers["python"](t, f) for t, _, f in inputs]
    row: dict[str, Any] = {"pack": label, "rules": len(ruleset.rules), "predicates": len(ruleset.predicates)}
    row["avg_matches"] = statistics.mean(len(e) for e in expected)
    for name, match in matchers.items():
        checked = inputs if name in ours else inputs[: args.peer_samples]
        bad = sum(1 for (t, _, f), want in zip(checked, expected, strict=False) if match(t, f) != want)
        row[f"{name}_mismatches"] = bad
        if bad:
            print(f"  !! {name} disagrees with the python backend on {bad}/{len(checked)} inputs")
    for name, match in matchers.items():
        samples = args.samples if name in ours else args.peer_samples
        row[f"{name}_us"] = summary(latencies(lambda t, _ts, f, m=match: m(t, f), inputs, samples))
    for name, matcher in ours.items():

        def full(t: str, ts: Any, f: dict[str, Any], m: Any = matcher) -> object:
            return evaluator.decide(event_type=t, timestamp=ts, matched=m.match(t, f), facts=f)

        row[f"{name}_decide_us"] = summary(latencies(full, inputs, args.samples // 2))
        row[f"{name}_rss_mb"] = rss_run(matcher.match, inputs, args.evaluations)
    for matcher in ours.values():
        matcher.close()
    return row


def print_table(rows: list[dict[str, Any]], evaluations: int) -> None:
    engines = ["durable", "python", "zen", "rule_engine"]
    print("\nper-event match time, us (median / p99); +decide = match + score/decision/tier/offers")
    head = (
        f"{'pack':<14}{'rules':>6}{'hits':>6}"
        + "".join(f"{e:>20}" for e in engines)
        + f"{'durable+decide':>18}{'python+decide':>18}"
    )
    print(head)
    for row in rows:
        cells = "".join(f"{_pair(row.get(e + '_us')):>20}" for e in engines)
        decide = f"{_pair(row['durable_decide_us']):>18}{_pair(row['python_decide_us']):>18}"
        print(f"{row['pack']:<14}{row['rules']:>6}{row['avg_matches']:>6.1f}{cells}{decide}")
    print(f"\nRSS (MB) before -> after {evaluations:,} evaluations per backend and pack")
    for row in rows:
        print(f"{row['pack']:<14} durable {_rss(row['durable_rss_mb'])}   python {_rss(row['python_rss_mb'])}")
    print("\nratios (peer median / our median)")
    for row in rows:
        parts = []
        for ours in ("durable", "python"):
            for peer in ("zen", "rule_engine"):
                if row.get(peer + "_us"):
                    parts.append(f"{peer}/{ours} {row[peer + '_us'][0] / row[ours + '_us'][0]:.0f}x")
        print(f"{row['pack']:<14} " + "  ".join(parts))


def _pair(value: tuple[float, float] | None) -> str:
    return f"{value[0]:.1f} / {value[1]:.1f}" if value else "n/a"


def _rss(value: tuple[float, float]) -> str:
    return f"{value[0]:.1f} -> {value[1]:.1f} ({value[1] - value[0]:+.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20,100,500")
    parser.add_argument("--rules", default="rules", help="the shipped pack; skipped if it does not compile")
    parser.add_argument(
        "--evaluations", type=int, default=1_000_000, help="evaluations per pack and backend for the RSS check"
    )
    parser.add_argument("--inputs", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=40_000, help="timed calls per backend and pack")
    parser.add_argument("--peer-samples", type=int, default=400)
    args = parser.parse_args()
    print(f"python {platform.python_version()} | {platform.platform()} | cpus={os.cpu_count()}")
    packs: list[tuple[str, CompiledRuleSet]] = []
    shipped, diagnostics = (
        compile_files(read_pack_files(args.rules), checks=backend_checks(BackendKind.DURABLE))
        if Path(args.rules).is_dir()
        else (None, [])
    )
    if shipped is None:
        errors = sum(d.is_error for d in diagnostics)
        print(f"shipped pack {args.rules}: skipped (does not compile: {errors} errors)")
    else:
        packs.append(("shipped", shipped))
    packs += [(f"generated-{n}", compile_pack(generate_pack(int(n)))) for n in args.sizes.split(",")]
    rows = []
    for label, ruleset in packs:
        print(f"{label}: {len(ruleset.rules)} rules, {len(ruleset.predicates)} conditions ...", flush=True)
        rows.append(bench_pack(label, ruleset, args))
    print_table(rows, args.evaluations)
    print(json.dumps(_figures(rows, args.evaluations)))


def _figures(rows: list[dict[str, Any]], evaluations: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"timed": "matcher.match on prebuilt facts", "evaluations": evaluations}
    for row in rows:
        suffix = row["pack"].removeprefix("generated-")
        for engine in ("durable", "python", "zen", "rule_engine"):
            if row.get(engine + "_us"):
                figures[f"{engine}_us_{suffix}"] = round(row[engine + "_us"][0], 2)
                figures[f"{engine}_p99_us_{suffix}"] = round(row[engine + "_us"][1], 2)
        figures[f"durable_decide_us_{suffix}"] = round(row["durable_decide_us"][0], 2)
        figures[f"python_decide_us_{suffix}"] = round(row["python_decide_us"][0], 2)
        figures[f"mismatches_{suffix}"] = sum(v for k, v in row.items() if k.endswith("_mismatches"))
    growth = [r[f"{e}_rss_mb"][1] - r[f"{e}_rss_mb"][0] for r in rows for e in ("durable", "python")]
    figures["rss_growth_mb"] = round(max(growth), 2)
    return figures


if __name__ == "__main__":
    main()
