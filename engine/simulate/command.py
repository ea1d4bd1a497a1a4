"""``yutang simulate``: write a seeded, labelled event log for replays, tests and benchmarks."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

from engine.progress import tracked
from engine.replay.log import write_log
from engine.simulate.context import Sim
from engine.simulate.generate import FAMILY_SETS, SimulationConfig, simulate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="JSONL file to write ('-' for stdout)")
    parser.add_argument("--events", type=int, default=100_000, help="number of events (default 100000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed: the same seed writes the same log")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 1), help="first day (Asia/Shanghai)")
    parser.add_argument("--days", type=int, default=14, help="length of the simulated window in days")
    parser.add_argument(
        "--no-payment", dest="payment", action="store_false", help="leave out the payment identity (wallet token)"
    )
    parser.add_argument(
        "--family-set",
        dest="family_sets",
        action="append",
        default=[],
        choices=sorted(FAMILY_SETS),
        help="add an opt-in set of families to the default mix (groupbuys: paid self-dealing, 团长 farm, class 拼团)",
    )
    parser.add_argument("--show-params", action="store_true", help="print the families' per-seed parameters (JSON)")


def run(args: argparse.Namespace) -> int:
    config = SimulationConfig(
        events=args.events,
        seed=args.seed,
        start=args.start,
        days=args.days,
        payment=args.payment,
        family_sets=tuple(args.family_sets),
    )
    started = time.perf_counter()
    kinds: Counter[str] = Counter()
    sim = Sim.create(config.seed, config.start, config.days)

    def counted() -> Iterator[dict[str, Any]]:
        for record in tracked(simulate(config, sim), label="simulate", total=config.events):
            kinds[record["family"]] += 1
            yield record

    if args.out == "-":
        written = write_log(counted(), sys.stdout)
    else:
        with open(args.out, "w", encoding="utf-8") as out:
            written = write_log(counted(), out)
    mix = ", ".join(f"{kind} {count:,}" for kind, count in sorted(kinds.items()))
    print(
        f"{args.out}: {written:,} events (seed {args.seed}) in {time.perf_counter() - started:.1f} s: {mix}",
        file=sys.stderr,
    )
    if args.show_params:
        print(json.dumps(sim.knobs.values, indent=2, sort_keys=True), file=sys.stderr)
    return 0
