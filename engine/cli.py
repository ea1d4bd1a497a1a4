"""The ``yutang`` command: check and test rule packs, serve the API, replay logs."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from engine.backends import BackendKind
from engine.compile.pack import compile_path, read_layers
from engine.errors import RuleLoadError
from engine.rule_engine import backend_checks, prepare

DEFAULT_RULES = os.environ.get("YUTANG_RULES", "rules")
DEFAULT_BACKEND = os.environ.get("YUTANG_BACKEND", BackendKind.DURABLE.value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yutang", description="yutang rule engine")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a rule pack; non-zero exit on any error")
    check.add_argument("path", nargs="?", default=DEFAULT_RULES)
    check.add_argument("--backend", choices=[b.value for b in BackendKind], default=DEFAULT_BACKEND)
    check.add_argument("--json", action="store_true", help="diagnostics as JSON lines")
    check.add_argument("--tenant", help="check webhooks against this tenant's allow-list (default: any tenant's)")
    check.add_argument("--base", help="PATH is a tenant's pack: check it layered on this base pack")
    test = commands.add_parser("test", help="run the pack's test cases")
    test.add_argument("path", nargs="?", default=DEFAULT_RULES)
    test.add_argument("--backend", choices=[b.value for b in BackendKind], default=DEFAULT_BACKEND)
    test.add_argument("-q", "--quiet", action="store_true", help="print failures and the summary only")
    test.add_argument("--base", help="PATH is a tenant's pack: run its cases on it layered on this base pack")
    commands.add_parser("schema", help="print the JSON Schema of a rule file (for editors)")
    serve = commands.add_parser("serve", help="run the HTTP API (embedded Redis unless REDIS_URL is set)")
    add_serve_arguments(serve)
    worker = commands.add_parser("worker", help="fire journey timeouts, red-packet tests and webhook deliveries")
    add_worker_arguments(worker)
    add_replay_commands(commands)
    args = parser.parse_args(argv)
    return int(COMMANDS[args.command](args))


def cmd_check(args: argparse.Namespace) -> int:
    from api.settings import Settings  # the deployment's webhook policy, from the same variables as serve

    checks = backend_checks(BackendKind(args.backend))
    policy = Settings.from_env().webhook_policy()
    policy = policy.only(args.tenant) if args.tenant else policy
    ruleset, diagnostics = compile_path(args.path, checks=checks, webhook_policy=policy, base=args.base)
    for diagnostic in diagnostics:
        print(diagnostic.as_json() if args.json else diagnostic.render())
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    if ruleset is None:
        print(f"{args.path}: {errors} error(s), {warnings} warning(s); the pack cannot be loaded", file=sys.stderr)
        return 1
    counts = (
        f"{len(ruleset.rules)} rules ({len(ruleset.shadow_rules)} shadow), {len(ruleset.tiers)} tiers,"
        f" {len(ruleset.offers)} offers, {len(ruleset.features)} features"
    )
    print(f"{args.path}: ok, version {ruleset.version}: {counts}; {warnings} warning(s)", file=sys.stderr)
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from engine.case_runner import run_cases

    try:
        files, tenant_files = read_layers(args.path, args.base)
        loaded = prepare(files, BackendKind(args.backend), tenant_files=tenant_files)
    except RuleLoadError as err:
        print(err, file=sys.stderr)
        return 1
    try:
        results = asyncio.run(run_cases(loaded))
    finally:
        loaded.matcher.close()
    failed = 0
    for result in results:
        status = "PASS" if result.passed else "FAIL"
        failed += not result.passed
        if not result.passed or not args.quiet:
            print(f"{status} {result.case.name}  ({result.case.location.render()})")
        for failure in result.failures:
            print(f"     {failure}")
    print(
        f"{len(results) - failed} passed, {failed} failed, {len(results)} cases"
        f" ({args.backend} backend, version {loaded.ruleset.version})"
    )
    return 1 if failed or not results else 0


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from engine.pack.json_schema import rule_file_schema

    print(json.dumps(rule_file_schema(), indent=2, ensure_ascii=False))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from api.serve import serve

    return serve(args)


def cmd_worker(args: argparse.Namespace) -> int:
    from api.journeys.worker import main as worker_main

    return worker_main(args)


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    from api.journeys.worker import add_arguments

    add_arguments(parser)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    from api.serve import add_arguments

    add_arguments(parser)


def add_replay_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from engine.replay import command as replay_command
    from engine.simulate import command as simulate_command

    simulate = commands.add_parser("simulate", help="write a seeded, labelled event log of honest and abusive traffic")
    simulate_command.add_arguments(simulate)
    replay = commands.add_parser("replay", help="backtest a rule set (and a baseline) on an event log")
    replay_command.add_arguments(replay, default_rules=DEFAULT_RULES, default_backend=DEFAULT_BACKEND)


def cmd_simulate(args: argparse.Namespace) -> int:
    from engine.simulate.command import run

    return run(args)


def cmd_replay(args: argparse.Namespace) -> int:
    from engine.replay.command import run

    return run(args)


COMMANDS = {"check": cmd_check, "test": cmd_test, "schema": cmd_schema, "serve": cmd_serve, "worker": cmd_worker}
COMMANDS |= {"simulate": cmd_simulate, "replay": cmd_replay}

if __name__ == "__main__":
    sys.exit(main())
