"""``yutang test [DIR]``: the pack's cases, then its scenarios, PASS / FAIL with places.

Cases (``tests:``) evaluate one event against given feature values, in process.
Scenarios (``scenarios:``) run through the API on a throw-away Redis on their own clock
(``api.scenarios.runner``): one line per scenario, one per failed step (every step
with ``-v``), each at its ``file:line:col`` with expected against actual.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from api.scenarios.junit import write_junit
from api.scenarios.runner import ScenarioResult, run_scenarios
from engine.backends import BackendKind
from engine.case_runner import CaseResult, run_cases
from engine.compile.pack import read_layers
from engine.errors import RuleLoadError
from engine.rule_engine import prepare


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    base = getattr(args, "base", None)
    try:
        files, tenant_files = read_layers(args.path, base)
        loaded = prepare(files, BackendKind(args.backend), tenant_files=tenant_files)
    except RuleLoadError as err:
        print(err, file=sys.stderr)
        return 1
    try:
        cases = asyncio.run(run_cases(loaded))
    finally:
        loaded.matcher.close()
    failed = _print_cases(cases, quiet=args.quiet)
    # a tenant's pack on a base: its cases run layered; scenarios run on a whole pack directory only
    wanted = loaded.ruleset.scenarios if base is None else ()
    scenarios = asyncio.run(run_scenarios(Path(args.path), args.backend, wanted))
    failed_scenarios = _print_scenarios(scenarios, quiet=args.quiet, verbose=args.verbose)
    seconds = time.perf_counter() - started
    steps = sum(len(s.steps) for s in scenarios)
    print(
        f"{len(cases) - failed} passed, {failed} failed, {len(cases)} cases;"
        f" {len(scenarios) - failed_scenarios} passed, {failed_scenarios} failed, {len(scenarios)} scenarios"
        f" ({steps} steps) ({args.backend} backend, version {loaded.ruleset.version}, {seconds:.1f} s)"
    )
    if args.junit:
        write_junit(Path(args.junit), cases, scenarios, seconds)
    return 1 if failed or failed_scenarios or not (cases or scenarios) else 0


def _print_cases(results: list[CaseResult], *, quiet: bool) -> int:
    failed = 0
    for result in results:
        status = "PASS" if result.passed else "FAIL"
        failed += not result.passed
        if not result.passed or not quiet:
            print(f"{status} {result.case.name}  ({result.case.location.render()})")
        for failure in result.failures:
            print(f"     {failure}")
    return failed


def _print_scenarios(results: list[ScenarioResult], *, quiet: bool, verbose: bool) -> int:
    failed = 0
    for result in results:
        failed += not result.passed
        if result.passed and quiet:
            continue
        status = "PASS" if result.passed else "FAIL"
        print(f"{status} scenario {result.scenario.name}  ({result.scenario.location.render()})")
        for step in result.steps:
            if step.failures or verbose:
                mark = "FAIL" if step.failures else "ok  "
                print(f"  {mark} step {step.index + 1} {step.kind}  ({step.location.render()})")
            for failure in step.failures:
                print(f"       {failure}")
    return failed
