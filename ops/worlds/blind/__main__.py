"""``python -m ops.worlds.blind --seed N --events 30000 --out FILE [--days 8]``: write one blind world."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import datetime

from ops.worlds.blind.clock import CST
from ops.worlds.blind.generate import DEFAULT_START, dumps, generate


def first_day(text: str) -> datetime:
    """``YYYY-MM-DD`` as midnight in Beijing time (argparse reports anything else as exit 2)."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=CST)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ops.worlds.blind", description=__doc__)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--events", type=int, default=30000)
    ap.add_argument("--days", type=int, default=8)
    ap.add_argument("--start", type=first_day, default=DEFAULT_START, help="first day (Beijing time), YYYY-MM-DD")
    ap.add_argument("--out", required=True)
    ap.add_argument("--show-params", action="store_true", help="print each family's drawn tactics on stderr")
    a = ap.parse_args(argv)
    if a.events < 2000 or a.days < 3:
        ap.error("--events must be at least 2000 and --days at least 3 (every family needs room)")
    lines, world = generate(a.seed, a.events, a.days, a.start)
    with open(a.out, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(dumps(line) + "\n")
    counts = Counter(line["family"] for line in lines)
    print(
        json.dumps({"events": len(lines), "families": dict(sorted(counts.items()))}, ensure_ascii=False),
        file=sys.stderr,
    )
    if a.show_params:
        print(json.dumps(world.params, ensure_ascii=False, default=str, indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
