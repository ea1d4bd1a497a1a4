"""Redis calls and Redis CPU per event of the shipped pack's features: buckets against exact windows.

    ./yt bench redis_calls [--events 2000] [--rules rules]

Records ``bench api``'s event mix (one at a time, on an embedded Redis) through
``FeatureStore.record_and_read`` with the pack's own feature plans, then again, on an
emptied Redis, with every count / sum window made ``exact`` (the sorted sets of before):
the peer in the same run. Prints each run's calls per event by command (INFO
commandstats, scripts' inner calls included) and Redis CPU per event (INFO cpu); the
last line is one JSON object with both.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.compile.pack import load_ruleset  # noqa: E402
from engine.datastore.connection import RedisSettings, client_from_url  # noqa: E402
from engine.datastore.embedded import EmbeddedRedis  # noqa: E402
from engine.events import Event  # noqa: E402
from engine.features.spec import FeatureSpec, WindowedFeature  # noqa: E402
from engine.features.store import FeatureStore  # noqa: E402
from ops.bench.api import sample_event  # noqa: E402
from ops.bench.features import redis_cpu_s  # noqa: E402

Plans = dict[str, tuple[FeatureSpec, ...]]


def exact_plans(plans: Plans) -> Plans:
    """The same plans with every bucketed window kept as an exact sorted set."""

    def exact(spec: FeatureSpec) -> FeatureSpec:
        return dataclasses.replace(spec, exact=True) if isinstance(spec, WindowedFeature) and spec.bucketed else spec

    return {kind: tuple(exact(s) for s in specs) for kind, specs in plans.items()}


def events(count: int) -> list[Event]:
    """``bench api``'s mix, 40 ms apart, ending now."""
    rng, start = random.Random(3), datetime.now(UTC) - timedelta(milliseconds=40 * count)
    return [
        Event.model_validate(
            {**sample_event(0, n, rng), "timestamp": (start + timedelta(milliseconds=40 * n)).isoformat()}
        )
        for n in range(count)
    ]


async def run(url: str, plans: Plans, stream: list[Event]) -> dict[str, object]:
    client = client_from_url(url, RedisSettings(socket_timeout=5.0))
    try:
        await client.flushdb()
        store = FeatureStore(client, secret=b"bench-secret-0123456789")
        await client.config_resetstat()
        before = await redis_cpu_s(client)
        for event in stream:
            await store.record_and_read(tenant="bench", event=event, specs=plans[event.type])
        cpu = await redis_cpu_s(client) - before
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    skip = {"cmdstat_info", "cmdstat_config", "cmdstat_evalsha", "cmdstat_eval", "cmdstat_flushdb"}
    calls = {k.removeprefix("cmdstat_"): int(v["calls"]) / len(stream) for k, v in stats.items() if k not in skip}
    return {
        "calls_per_event": round(sum(calls.values()), 1),
        "redis_cpu_us_per_event": round(cpu / len(stream) * 1e6, 1),
        "by_command": {k: round(v, 2) for k, v in sorted(calls.items(), key=lambda kv: -kv[1])},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    args = parser.parse_args()
    plans = dict(load_ruleset(args.rules).feature_plan)
    stream = events(args.events)
    with tempfile.TemporaryDirectory(prefix="yutang-bench-") as data, EmbeddedRedis(data) as server:
        buckets = asyncio.run(run(server.url, plans, stream))
        exact = asyncio.run(run(server.url, exact_plans(plans), stream))
    for name, figures in (("exact windows", exact), ("buckets", buckets)):
        print(f"{name:14s} {figures['calls_per_event']} calls, {figures['redis_cpu_us_per_event']} us Redis CPU "
              f"per event: {figures['by_command']}")  # fmt: skip
    print(json.dumps({"events": args.events, "buckets": buckets, "exact": exact}))


if __name__ == "__main__":
    main()
