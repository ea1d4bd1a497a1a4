"""``yutang replay``: backtest a rule set (against a baseline) on a recorded or simulated log."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from engine.backends import BackendKind
from engine.errors import EngineError, RuleLoadError
from engine.progress import count_lines, tracked
from engine.replay.judge import PackSource
from engine.replay.log import LogFormatError, read_log
from engine.replay.render import render
from engine.replay.runner import replay


def add_arguments(parser: argparse.ArgumentParser, *, default_rules: str, default_backend: str) -> None:
    parser.add_argument("log", help="event log: one event JSON per line, optional 'truth' key")
    parser.add_argument("--rules", default=default_rules, help="the rule set to try (default: the rules directory)")
    parser.add_argument("--baseline", help="the rule set running today: list every event whose decision changes")
    parser.add_argument("--backend", choices=[b.value for b in BackendKind], default=default_backend)
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--batch", type=int, default=64, help="events per Redis pipeline (1 = one by one)")
    parser.add_argument("--one-process", action="store_true", help="evaluate in this process (slower; for debugging)")


def run(args: argparse.Namespace) -> int:
    kind = BackendKind(args.backend)
    sources = [PackSource.read(path, kind) for path in [args.rules] + ([args.baseline] if args.baseline else [])]
    try:
        result = asyncio.run(
            replay(
                tracked(read_log(args.log), label="replay", total=count_lines(args.log)),
                sources[0],
                sources[1] if len(sources) > 1 else None,
                batch=args.batch,
                in_process=args.one_process,
            )
        )
    except RuleLoadError as err:
        print(err, file=sys.stderr)
        return 1
    except (LogFormatError, OSError, EngineError) as err:
        print(f"yutang replay: {err}", file=sys.stderr)
        return 1
    summary = result.summary(source=args.log)
    summary["backend"] = kind.value
    print(json.dumps(summary, ensure_ascii=False, indent=2) if args.json else render(summary))
    return 0
