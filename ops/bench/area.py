#!/usr/bin/env python3
"""What ``ip.outside_area`` and ``ip.hosting`` cost a worker per event, beside ``phone.outside_area`` in the same run.

    python ops/bench/area.py [--events 20000]

Both are derived facts (engine/facts.py): no Redis call, only CPU in the worker. Timed
with ``time.process_time`` over the same number of events, two streams each: every
address / number block never seen before (a 秒拨 farm gives each request a new line, a
code platform a new block) and the same 1,000 seen again (a studio's parents). The last
line is one JSON object with the figures (µs of CPU per event).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.geo import _block_region, _ip_fields, ip_hosting, ip_outside, ip_region, phone_outside
from engine.simulate.lines import line_anywhere
from engine.simulate.world import ORDINARY_SEGMENTS

AREA = frozenset({"北京", "天津", "河北"})


def per_event(values: list[str], check: Callable[[str, frozenset[str]], bool | None]) -> float:
    started = time.process_time()
    for value in values:
        check(value, AREA)
    return (time.process_time() - started) / len(values) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    rng = random.Random(11)
    ips = [line_anywhere(rng) for _ in range(args.events)]
    phones = [f"+86{rng.choice(ORDINARY_SEGMENTS)}{rng.randrange(10**8):08d}" for _ in range(args.events)]
    ip_outside("1.2.3.4", AREA)  # load the database once, as the first request of a worker does
    phone_outside("+8613800000000", AREA)
    ip_region.cache_clear()
    _ip_fields.cache_clear()
    _block_region.cache_clear()
    figures = {"ip_new": per_event(ips, ip_outside), "phone_new": per_event(phones, phone_outside)}
    hosting_ips = [line_anywhere(rng) for _ in range(args.events)]  # not yet looked up by ip_outside
    figures["hosting_new"] = per_event(hosting_ips, lambda ip, _area: ip_hosting(ip))
    seen_ips, seen_phones = ips[:1000] * (args.events // 1000), phones[:1000] * (args.events // 1000)
    figures |= {"ip_seen": per_event(seen_ips, ip_outside), "phone_seen": per_event(seen_phones, phone_outside)}
    figures["hosting_seen"] = per_event(seen_ips, lambda ip, _area: ip_hosting(ip))
    placed = [line_anywhere(rng) for _ in range(1000)]  # a new address as the pack sees it: placed, then hosting
    for ip in placed:
        ip_outside(ip, AREA)
    figures["hosting_after_area"] = per_event(placed, lambda ip, _area: ip_hosting(ip))
    for name, value in figures.items():
        print(f"{name:>10}: {value:6.2f} µs CPU per event")
    print(json.dumps({"bench": "area", "events": args.events} | {k: round(v, 2) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
