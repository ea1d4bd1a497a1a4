"""The ``yutang`` command: check and test rule packs, serve the API, replay logs.

Exit codes (docs/cli.md): 0 done, nothing wrong; 1 the command found problems (pack
errors, failed cases, a malformed log line); 2 usage: a bad argument or a file that is
missing or unreadable, said in one line, never a traceback; 130 interrupted (Ctrl-C);
141 stdout was closed before the output was written (``yutang check --json | head``),
as for a process that SIGPIPE stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence

from engine.backends import BackendKind
from engine.compile.pack import compile_path
from engine.logs import configure as configure_logs
from engine.rule_engine import backend_checks
from engine.version import __version__

DEFAULT_RULES = os.environ.get("YUTANG_RULES", "rules")
DEFAULT_BACKEND = os.environ.get("YUTANG_BACKEND", BackendKind.DURABLE.value)


#: Exit statuses; see the module docstring.
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_PIPE_CLOSED = 0, 1, 2, 130, 141
#: Arguments, of any sub-command, that name a file or directory that must exist (outputs are not among them).
INPUT_PATHS = ("path", "log", "rules", "baseline", "base")
#: Commands that log at INFO (a service); the others log warnings and errors only.
SERVICES = ("serve", "worker")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; its exit status (argparse itself exits 2 on a bad argument, with the usage)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command not in SERVICES and not logging.getLogger().handlers:  # (an embedding program's stay)
            configure_logs(level="warning")  # serve and worker configure their own (levels, uvicorn's workers)
        missing = [getattr(args, name) for name in INPUT_PATHS if _missing(getattr(args, name, None))]
        if missing:
            print(f"yutang {args.command}: {missing[0]}: no such file or directory", file=sys.stderr)
            return EXIT_USAGE
        status = int(COMMANDS[args.command](args))
        sys.stdout.flush()  # here, not at exit: a closed pipe must be caught below
        return status
    except BrokenPipeError:
        _drop_stdout()
        return EXIT_PIPE_CLOSED
    except KeyboardInterrupt:
        print(f"yutang {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as err:
        print(f"yutang {args.command}: {err.filename or ''}: {err.strerror or err}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as err:  # a setting from the environment (YUTANG_LOG_FORMAT, a Settings field) is wrong
        print(f"yutang {args.command}: {err}", file=sys.stderr)
        return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="yutang", description="yutang rule engine")
    parser.add_argument("--version", action="version", version=f"yutang {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a rule pack; non-zero exit on any error")
    check.add_argument("path", nargs="?", default=DEFAULT_RULES)
    check.add_argument("--backend", choices=[b.value for b in BackendKind], default=DEFAULT_BACKEND)
    check.add_argument("--json", action="store_true", help="diagnostics as JSON lines")
    check.add_argument("--tenant", help="check webhooks against this tenant's allow-list (default: any tenant's)")
    check.add_argument("--base", help="PATH is a tenant's pack: check it layered on this base pack")
    test = commands.add_parser("test", help="run the pack's test cases and scenarios")
    test.add_argument("path", nargs="?", default=DEFAULT_RULES)
    test.add_argument("--backend", choices=[b.value for b in BackendKind], default=DEFAULT_BACKEND)
    test.add_argument("-q", "--quiet", action="store_true", help="print failures and the summary only")
    test.add_argument("-v", "--verbose", action="store_true", help="print every scenario step, not only failed ones")
    test.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML (for CI)")
    test.add_argument("--base", help="PATH is a tenant's pack: run its cases on it layered on this base pack")
    commands.add_parser("schema", help="print the JSON Schema of a rule file (for editors)")
    serve = commands.add_parser("serve", help="run the HTTP API (embedded Redis unless REDIS_URL is set)")
    add_serve_arguments(serve)
    worker = commands.add_parser("worker", help="fire journey timeouts, red-packet tests and webhook deliveries")
    add_worker_arguments(worker)
    add_replay_commands(commands)
    return parser


def _missing(value: object) -> bool:
    return isinstance(value, str) and value != "-" and not os.path.exists(value)


def _drop_stdout() -> None:
    """Point stdout at /dev/null: the reader has gone, and the interpreter's last flush must not raise again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


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
    idle = len(ruleset.all_rules) - len(ruleset.rules)
    counts = (
        f"{len(ruleset.all_rules)} rules ({len(ruleset.shadow_rules)} shadow, {idle} off or expired),"
        f" {len(ruleset.tiers)} tiers, {len(ruleset.offers)} offers,"
        f" {len(ruleset.declared_features)} features"
    )
    print(f"{args.path}: ok, version {ruleset.version}: {counts}; {warnings} warning(s)", file=sys.stderr)
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from api.scenarios.command import run  # scenarios run through the API on a throw-away Redis

    return run(args)


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
