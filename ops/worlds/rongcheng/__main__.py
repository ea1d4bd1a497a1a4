"""``python -m ops.worlds.rongcheng --seed N --events 30000 --out F [--days 9] [--show-params]``."""

from __future__ import annotations

import argparse
import json
import sys

from ops.worlds.rongcheng.world import build


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.worlds.rongcheng", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--events", type=int, default=30000)
    parser.add_argument("--days", type=int, default=9)
    parser.add_argument("--out", required=True)
    parser.add_argument("--show-params", action="store_true", help="print each family's tactics drawn for the seed")
    args = parser.parse_args(argv)
    if args.days < 3 or args.events < 2000:
        parser.error("--days must be at least 3 and --events at least 2000")
    log, params = build(args.seed, args.events, args.days)
    with open(args.out, "w", encoding="utf-8", newline="\n") as out:
        log.write(out)
    if args.show_params:
        print(json.dumps(params, ensure_ascii=False, indent=1, default=list), file=sys.stderr)
    counts = log.counts()
    print(json.dumps({"events": len(log), "families": dict(sorted(counts.items()))}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
