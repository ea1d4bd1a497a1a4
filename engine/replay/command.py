"""``yutang replay``: backtest a rule set (against a baseline) on a recorded or simulated log."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys

from engine.backends import BackendKind
from engine.errors import RuleLoadError
from engine.pack.loader import read_pack_files
from engine.replay.log import LogFormatError, read_log
from engine.replay.render import render
from engine.replay.runner import replay
from engine.rule_engine import LoadedRuleSet, prepare


def add_arguments(parser: argparse.ArgumentParser, *, default_rules: str, default_backend: str) -> None:
    parser.add_argument("log", help="event log: one event JSON per line, optional 'truth' key")
    parser.add_argument("--rules", default=default_rules, help="the rule set to try (default: the rules directory)")
    parser.add_argument("--baseline", help="the rule set running today: list every event whose decision changes")
    parser.add_argument("--backend", choices=[b.value for b in BackendKind], default=default_backend)
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--batch", type=int, default=64, help="events per Redis pipeline (1 = one by one)")


def run(args: argparse.Namespace) -> int:
    kind = BackendKind(args.backend)
    loaded: list[LoadedRuleSet] = []
    try:
        for path in [args.rules] + ([args.baseline] if args.baseline else []):
            loaded.append(prepare(read_pack_files(path), kind))
    except RuleLoadError as err:
        print(err, file=sys.stderr)
        return 1
    try:
        result = asyncio.run(replay(read_log(args.log), loaded[0], loaded[1] if len(loaded) > 1 else None,
                                    batch=args.batch))
    except (LogFormatError, OSError) as err:
        print(f"yutang replay: {err}", file=sys.stderr)
        return 1
    finally:
        for one in loaded:
            one.matcher.close()
    summary = result.summary(source=args.log)
    summary["backend"] = kind.value
    print(json.dumps(summary, ensure_ascii=False, indent=2) if args.json else render(summary))
    return 0
