"""What the link features cost per event as link groups fill up: with against without, in the same run.

    ./yt bench link_growth [--events 6000] [--segment 1500] [--rules rules]

``bench api``'s event mix (2,000 customers on 1,500 random devices: every customer soon
has a full group, and the devices turn into hubs) goes through ``FeatureStore.record_and_read``
one event at a time on an embedded Redis, twice side by side: one tenant with the pack's
feature plans less its link features (the peer), one with them, alternating segment by
segment so both meet the same load on this shared box. Per segment it prints what the
link features add per event: worker CPU (this process, ``process_time``), Redis CPU (INFO
cpu), Redis calls (INFO commandstats, scripts' inner calls included) and round trips. A
cost bounded by the declared caps (engine/features/links.py) stops growing; one that
follows the data does not. The last line is one JSON object with every segment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.compile.pack import load_ruleset  # noqa: E402
from engine.datastore import scripts  # noqa: E402
from engine.datastore.connection import RedisSettings, client_from_url  # noqa: E402
from engine.datastore.embedded import EmbeddedRedis  # noqa: E402
from engine.events import Event  # noqa: E402
from engine.features import store as store_module  # noqa: E402
from engine.features.spec import FeatureSpec, LinkFeature  # noqa: E402
from engine.features.store import FeatureStore  # noqa: E402
from ops.bench.features import redis_cpu_s  # noqa: E402
from ops.bench.redis_calls import events  # noqa: E402

Plans = dict[str, tuple[FeatureSpec, ...]]


async def _calls(client: Any) -> int:
    stats = await client.info("commandstats")
    skip = {"cmdstat_info", "cmdstat_config", "cmdstat_evalsha", "cmdstat_eval", "cmdstat_flushdb"}
    return sum(int(v["calls"]) for k, v in stats.items() if k not in skip)


class Trips:
    """Counts the store's round trips (``run_batch`` calls)."""

    def __init__(self) -> None:
        self.count = 0
        self._run_batch = scripts.run_batch

    async def __call__(self, client: Any, calls: Any) -> Any:
        self.count += 1
        return await self._run_batch(client, calls)


async def _segment(
    store: FeatureStore, client: Any, tenant: str, plans: Plans, part: list[Event], trips: Trips
) -> dict[str, float]:
    calls0, redis0, trips0, worker0 = await _calls(client), await redis_cpu_s(client), trips.count, time.process_time()
    for event in part:
        await store.record_and_read(tenant=tenant, event=event, specs=plans[event.type])
    worker = time.process_time() - worker0
    redis, calls = await redis_cpu_s(client) - redis0, await _calls(client) - calls0 - 2  # the two INFO reads
    n = len(part)
    trip_count = trips.count - trips0
    return {"worker_us": worker / n * 1e6, "redis_us": redis / n * 1e6, "calls": calls / n, "trips": trip_count / n}


async def run(url: str, plans: Plans, stream: list[Event], segment: int) -> list[dict[str, float]]:
    client = client_from_url(url, RedisSettings(socket_timeout=5.0))
    bare = {kind: tuple(s for s in specs if not isinstance(s, LinkFeature)) for kind, specs in plans.items()}
    trips = Trips()
    store_module.run_batch = trips  # the store's own reference: every round trip it makes
    rows: list[dict[str, float]] = []
    try:
        await client.flushdb()
        store = FeatureStore(client, secret=b"bench-secret-0123456789")
        for low in range(0, len(stream), segment):
            part = stream[low : low + segment]
            without = await _segment(store, client, "bare", bare, part, trips)
            linked = await _segment(store, client, "links", plans, part, trips)
            row = {"upto": float(low + len(part))}
            row.update({f"without_{k}": round(v, 1) for k, v in without.items()})
            row.update({f"links_add_{k}": round(linked[k] - without[k], 2 if k == "trips" else 1) for k in without})
            rows.append(row)
            print(
                f"events {low:>6,}-{low + len(part):<6,} without {without['worker_us']:6.0f} us worker "
                f"{without['redis_us']:5.0f} us Redis {without['calls']:5.1f} calls | link features add "
                f"{row['links_add_worker_us']:+6.0f} us worker {row['links_add_redis_us']:+5.0f} us Redis "
                f"{row['links_add_calls']:+5.1f} calls {row['links_add_trips']:+.2f} round trips per event",
                flush=True,
            )
    finally:
        store_module.run_batch = trips._run_batch
        await client.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--segment", type=int, default=1500)
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    args = parser.parse_args()
    plans = dict(load_ruleset(args.rules).feature_plan)
    stream = events(args.events)
    with tempfile.TemporaryDirectory(prefix="yutang-bench-") as data, EmbeddedRedis(data) as server:
        rows = asyncio.run(run(server.url, plans, stream, args.segment))
    print(json.dumps({"events": args.events, "segments": rows}))


if __name__ == "__main__":
    main()
