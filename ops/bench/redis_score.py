"""Redis calls and Redis CPU of the WHOLE scored event, by command and by script.

    ./yt bench redis_score [--events 1500] [--rules rules] [--cluster]

``redis_calls`` counts the feature plans alone; this one posts ``bench api``'s event mix
(one at a time, 40 ms apart in event time, fresh ids) to the real app (``create_app``,
the shipped pack, the default backend, driven in-process through its ASGI interface) on
an embedded Redis, so everything a ``/v1/score`` does in Redis is in the figures: the
claim, the feature plan, journeys' STEP, the offers' RESERVE, the folded writes after
the decision. Printed per event:

- Redis CPU (``INFO cpu``, user + sys: the AOF's write and fsync included, as in
  production) and the AOF bytes appended; this process's CPU (the app and the in-process
  HTTP client together: compare builds, not with ``bench api``'s worker figure);
- calls by command (``INFO commandstats``: scripts' inner calls counted by their own
  command, the scripts themselves left out);
- by event type (``--typed`` events, one by one): the round trips and commands the
  worker sent (the engine client's counters), Redis CPU (``INFO cpu`` around each, its
  own cost taken off), and the top-level commands and scripts of the traced events;
- runs, inner calls and execution time by script and by plain command, over a few more
  events traced with ``SLOWLOG`` at a threshold of 0 (a script's time includes its
  inner calls; tracing costs the server CPU, so those events are left out of the CPU
  figure). Script names come from the project's own Lua sources, by SHA.

``--cluster`` runs the same on a local 3-master cluster (engine/datastore/local_cluster.py,
``appendfsync no``; ``--masters 1``: one master holding every slot, which tells what
cluster mode and the per-slot script calls cost from what the masters sharing the box
cost), every figure summed over the masters; compare it with ``--appendfsync no`` on one
server, since the cluster's masters do not fsync.

The last line is one JSON object with all of it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import pkgutil
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from redis.asyncio import Redis  # noqa: E402

from engine.datastore import compose  # noqa: E402
from engine.datastore.embedded import EmbeddedRedis  # noqa: E402
from engine.datastore.local_cluster import start_local_cluster  # noqa: E402
from ops.bench.api import sample_event  # noqa: E402
from ops.bench.parts.in_process import in_process_app  # noqa: E402

_SKIP = {"info", "config", "slowlog", "flushdb", "ping", "script", "client"}


def script_names() -> dict[str, str]:
    """SHA1 -> ``module.NAME`` of every Lua source the project ships (constants and scripts/*.lua)."""
    names: dict[str, str] = {}
    for package in ("engine", "api"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            try:
                module = importlib.import_module(info.name)
            except Exception:  # a module that needs an optional extra: no scripts of ours
                continue
            for attr, value in vars(module).items():
                if isinstance(value, str) and "redis.call" in value:
                    names.setdefault(hashlib.sha1(value.encode()).hexdigest(), f"{info.name.split('.', 1)[1]}.{attr}")
    for path in ROOT.glob("engine/**/scripts/*.lua"):
        names[hashlib.sha1(path.read_text("utf-8").encode()).hexdigest()] = path.name
    return names


def bodies(count: int) -> list[bytes]:
    """``bench api``'s mix, 40 ms apart in event time and ending now (fresh event ids)."""
    rng, start = random.Random(3), datetime.now(UTC) - timedelta(milliseconds=40 * count)
    return [
        json.dumps({**sample_event(0, n, rng), "timestamp": at.isoformat()}).encode()
        for n in range(count)
        if (at := start + timedelta(milliseconds=40 * n))
    ]


async def run(
    url: str,
    rules: str,
    data: Path,
    posts: list[bytes],
    warmup: int,
    traced: int,
    masters: list[int] | None = None,
    typed: int = 0,
) -> dict[str, Any]:
    """Warm up, measure CPU / AOF / commandstats, then ``typed`` events one by one, ``traced`` with SLOWLOG."""
    redis = Masters([Redis(port=port) for port in masters]) if masters else Masters([Redis.from_url(url)])
    end = len(posts) - traced - typed
    measured, by_type = posts[warmup:end], posts[end : end + typed]
    kinds: Counter[str] = Counter()
    trips: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    cpu_of: Counter[str] = Counter()
    logs: list[tuple[str, list[list[dict[str, Any]]]]] = []
    try:
        async with in_process_app(rules, url, data, redis_cluster=masters is not None) as app:
            engine_client = app.app.state.runtime.services.client

            async def post(batch: list[bytes]) -> None:
                for body in batch:
                    await app.post(body)

            await post(posts[:warmup])
            await redis.config_resetstat()
            cpu, aof, where = await _cpu(redis), await _aof(redis), await _where(redis)
            worker = time.process_time()
            await post(measured)
            worker = time.process_time() - worker
            cpu, aof = await _cpu(redis) - cpu, await _aof(redis) - aof
            stats = await redis.info("commandstats")
            where = _delta(await _where(redis), where)
            info_cost = await _info_cost(redis)
            for body in by_type:  # one by one: the client's round trips and Redis CPU per event type
                kind = json.loads(body)["type"]
                before = (getattr(engine_client, "round_trips", 0), getattr(engine_client, "commands_sent", 0))
                started = await _cpu(redis)
                await post([body])
                cpu_of[kind] += await _cpu(redis) - started - info_cost
                kinds[kind] += 1
                trips[kind] += getattr(engine_client, "round_trips", 0) - before[0]
                sent[kind] += getattr(engine_client, "commands_sent", 0) - before[1]
            # the slow log costs the server CPU itself: traced events are not in the CPU figure
            await redis.config_set("slowlog-log-slower-than", 0)
            await redis.config_set("slowlog-max-len", 1_000_000)
            await redis.slowlog_reset()
            for body in posts[len(posts) - traced :]:
                await post([body])
                logs.append((json.loads(body)["type"], await redis.slowlog_get(1_000_000)))
                await redis.slowlog_reset()
    finally:
        await redis.config_set("slowlog-log-slower-than", 10_000)
        await redis.aclose()
    names = script_names()
    masters_logs = [[e for _, each in logs for e in each[m]] for m in range(len(redis.clients))]
    typed_figures = per_type(kinds, trips, sent, cpu_of, logs, names)
    whole = merged([by_script(traced, each, names) for each in masters_logs])
    process = {"process_cpu_us_per_event": round(worker / max(len(measured), 1) * 1e6, 1)}
    account = accounting(len(measured), cpu, stats, where, whole)
    return {**figures(len(measured), cpu, aof, stats), **process, **whole, "accounting": account,
            "by_type": typed_figures}  # fmt: skip


async def _info_cost(redis: Masters, times: int = 50) -> float:
    """Redis CPU of one ``INFO cpu`` read (subtracted from the per-type figures, which read it per event)."""
    first = await _cpu(redis)
    for _ in range(times - 1):
        await _cpu(redis)
    return (await _cpu(redis) - first) / times


def per_type(
    kinds: Counter[str], trips: Counter[str], sent: Counter[str], cpu: Counter[str],
    logs: list[tuple[str, list[list[dict[str, Any]]]]], names: dict[str, str],
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Per event type: round trips and commands the worker sent, Redis CPU, top-level commands and time inside them."""
    traced: dict[str, list[list[dict[str, Any]]]] = defaultdict(list)
    for kind, each in logs:
        traced[kind].append([e for master in each for e in master])
    result: dict[str, dict[str, Any]] = {}
    for kind in sorted(set(kinds) | set(traced)):
        n = kinds[kind]
        entries = [e for each in traced[kind] for e in each]
        scripts = by_script(len(traced[kind]), entries, names) if traced[kind] else {}
        result[kind] = {
            "events": n,
            "round_trips": round(trips[kind] / n, 2) if n else None,
            "commands_sent": round(sent[kind] / n, 2) if n else None,
            "redis_cpu_us": round(cpu[kind] / n * 1e6, 1) if n else None,
            "top_level_commands": scripts.get("round_trip_commands_per_event"),
            "us_in_commands": scripts.get("server_us_per_event"),
            "scripts": {k: v["runs"] for k, v in scripts.get("by_script", {}).items()},
        }
    return result


class Masters:
    """The server, or every master of a cluster, read as one: figures summed, slow logs kept per master."""

    def __init__(self, clients: list[Redis]) -> None:
        self.clients = clients

    async def _each(self, method: str, *args: Any) -> list[Any]:
        return list(await asyncio.gather(*(getattr(c, method)(*args) for c in self.clients)))

    async def config_resetstat(self) -> None:
        await self._each("config_resetstat")

    async def config_set(self, name: str, value: Any) -> None:
        await self._each("config_set", name, value)

    async def slowlog_reset(self) -> None:
        await self._each("slowlog_reset")

    async def slowlog_get(self, count: int) -> list[list[dict[str, Any]]]:
        return await self._each("slowlog_get", count)

    async def info(self, section: str) -> dict[str, Any]:
        total: dict[str, Any] = {}
        for stats in await self._each("info", section):
            for name, value in stats.items():
                if isinstance(value, dict):
                    into = total.setdefault(name, {"calls": 0, "usec": 0.0})
                    into["calls"] += int(value["calls"])
                    into["usec"] += float(value.get("usec", 0))
                else:
                    total[name] = total.get(name, 0) + (float(value) if isinstance(value, int | float) else 0)
        return total

    async def aclose(self) -> None:
        await self._each("aclose")


def merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """``by_script`` of each master, summed."""
    if len(parts) == 1:
        return parts[0]
    scripts: dict[str, dict[str, float]] = {}
    for part in parts:
        for name, each in part["by_script"].items():
            into = scripts.setdefault(name, {"runs": 0.0, "calls": 0.0, "us": 0.0})
            for field in into:
                into[field] = round(into[field] + each[field], 2)
    return {
        "round_trip_commands_per_event": round(sum(p["round_trip_commands_per_event"] for p in parts), 2),
        "server_us_per_event": round(sum(p["server_us_per_event"] for p in parts), 1),
        "by_script": dict(sorted(scripts.items(), key=lambda kv: -kv[1]["us"])),
    }


#: INFO fields read before and after the measured events (``stats``, ``keyspace``): what Redis did besides commands.
_WHERE = ("total_net_input_bytes", "total_net_output_bytes", "expired_keys", "total_commands_processed",
          "total_reads_processed", "total_writes_processed", "keys", "expires")  # fmt: skip


async def _where(redis: Masters) -> dict[str, float]:
    """The server's byte, key and event-loop counters, summed over the masters."""
    found: dict[str, float] = dict.fromkeys(_WHERE, 0.0)
    for client in redis.clients:
        info = await client.info("all")
        for name in _WHERE:
            found[name] += float(info.get(name, 0) or 0)
        for value in info.values():  # db0: {'keys': .., 'expires': ..}
            if isinstance(value, dict) and "keys" in value and "expires" in value:
                found["keys"] += float(value["keys"])
                found["expires"] += float(value["expires"])
    return found


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in after}


def accounting(
    n: int, cpu: float, stats: dict[str, Any], where: dict[str, float], traced: dict[str, Any]
) -> dict[str, Any]:
    """Per event: Redis CPU inside top-level commands (commandstats usec) against all of it; the rest is outside them.

    Scripts' inner calls are in commandstats too and inside their script's usec, so "inside" sums the scripts
    (EVAL/EVALSHA) and the plain commands the traced events sent at the top level (the slow log's by_script).
    """
    top_plain = {
        name for name in traced.get("by_script", {}) if " " not in name and "." not in name and "(" not in name
    }
    usec = {k.removeprefix("cmdstat_"): float(v.get("usec", 0)) for k, v in stats.items()}
    inside = sum(us for name, us in usec.items() if name in {"evalsha", "eval"} | top_plain)
    per = 1e6 / max(n, 1)
    return {
        "redis_cpu_us": round(cpu * per, 1),
        "inside_commands_us": round(inside / max(n, 1), 1),
        "outside_commands_us": round(cpu * per - inside / max(n, 1), 1),
        "scripts_us": round((usec.get("evalsha", 0) + usec.get("eval", 0)) / max(n, 1), 1),
        "plain_top_level_us": {name: round(usec.get(name, 0) / max(n, 1), 1) for name in sorted(top_plain)},
        "bytes_in": round(where["total_net_input_bytes"] / max(n, 1)),
        "bytes_out": round(where["total_net_output_bytes"] / max(n, 1)),
        "keys_created": round(where["keys"] / max(n, 1), 2),
        "keys_with_ttl_created": round(where["expires"] / max(n, 1), 2),
        "keys_expired": round(where["expired_keys"] / max(n, 1), 2),
        "reads_processed": round(where["total_reads_processed"] / max(n, 1), 2),
        "writes_processed": round(where["total_writes_processed"] / max(n, 1), 2),
    }


async def _cpu(redis: Masters) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def _aof(redis: Masters) -> int:
    return int((await redis.info("persistence")).get("aof_current_size", 0))


def figures(n: int, cpu: float, aof: int, stats: dict[str, Any]) -> dict[str, Any]:
    """Per event: Redis CPU, AOF bytes, calls by command (inner calls of scripts included)."""
    by_command = {
        k.removeprefix("cmdstat_"): int(v["calls"]) / n
        for k, v in stats.items()
        if k.removeprefix("cmdstat_") not in _SKIP | {"evalsha", "eval"}
    }
    return {
        "events": n,
        "redis_cpu_us_per_event": round(cpu / n * 1e6, 1),
        "aof_bytes_per_event": round(aof / n),
        "calls_per_event": round(sum(by_command.values()), 1),
        "by_command": {k: round(v, 2) for k, v in sorted(by_command.items(), key=lambda kv: -kv[1]) if v >= 0.005},
    }


def by_script(n: int, log: list[dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
    """Per event: each script's runs, inner calls and execution time, and each plain command's, from the slow log.

    A script's inner calls are logged (client ``?:0``) just before the script itself.
    """
    runs: Counter[str] = Counter()
    inner: Counter[str] = Counter()
    micros: defaultdict[str, float] = defaultdict(float)
    pending = 0
    for entry in sorted(log, key=lambda e: e["id"]):
        words = [w.decode() if isinstance(w, bytes) else str(w) for w in entry["command"].split()[:2]]
        command = words[0].lower() if words else "?"
        if entry.get("client_address") == b"?:0":
            pending += 1
            continue
        if command in _SKIP:
            continue
        if command in ("evalsha", "eval"):
            sha = words[1] if command == "evalsha" and len(words) > 1 else ""
            name = names.get(sha) or _composite_name(sha, names)
        else:
            name = command
        runs[name] += 1
        inner[name] += pending
        micros[name] += entry["duration"]
        pending = 0
    return {
        "round_trip_commands_per_event": round(sum(runs.values()) / n, 2),
        "server_us_per_event": round(sum(micros.values()) / n, 1),
        "by_script": {
            name: {
                "runs": round(runs[name] / n, 2),
                "calls": round(inner[name] / n, 1),
                "us": round(micros[name] / n, 1),
            }
            for name in sorted(runs, key=lambda c: -micros[c])
        },
    }


def _composite_name(sha: str, names: dict[str, str]) -> str:
    """``composed(a+b)`` for a composite of engine/datastore/compose.py (this process built it), by its parts' names."""
    parts = compose.parts_of(sha)
    if parts is None:
        return f"script {sha[:10]}"
    short = [names.get(p.sha, p.name) for p in parts]
    return "composed(" + "+".join(n if n.endswith(".lua") else n.rsplit(".", 1)[-1] for n in short) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--traced", type=int, default=300, help="events after the measured ones, timed by SLOWLOG")
    parser.add_argument("--typed", type=int, default=300, help="events after those, measured one by one by type")
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    parser.add_argument("--cluster", action="store_true", help="on a local cluster, summed over its masters")
    parser.add_argument("--masters", type=int, default=3, help="the local cluster's masters (1: cluster mode alone)")
    parser.add_argument("--appendfsync", default=None, help="the one server's appendfsync (default: yutang's)")
    args = parser.parse_args()
    posts = bodies(args.warmup + args.events + args.typed + args.traced)
    with tempfile.TemporaryDirectory(prefix="yutang-bench-") as tmp:
        data = Path(tmp) / "data"
        if args.cluster:
            cluster = start_local_cluster(Path(tmp) / "cluster", masters=args.masters)
            try:
                result = asyncio.run(
                    run(cluster.url, args.rules, data, posts, args.warmup, args.traced, cluster.ports, args.typed)
                )
            finally:
                cluster.stop()
        else:
            config = {"appendfsync": args.appendfsync} if args.appendfsync else {}
            with EmbeddedRedis(Path(tmp) / "redis", config=config) as server:
                result = asyncio.run(
                    run(server.url, args.rules, data, posts, args.warmup, args.traced, typed=args.typed)
                )
    print(f"whole scored event: {result['redis_cpu_us_per_event']} us Redis CPU, "
          f"{result['process_cpu_us_per_event']} us this process's CPU, {result['calls_per_event']} calls, "
          f"{result['aof_bytes_per_event']} AOF bytes, {result['server_us_per_event']} us in commands "
          f"per event")  # fmt: skip
    print(f"  by command: {result['by_command']}")
    print(f"  accounting: {result['accounting']}")
    for name, each in result["by_script"].items():
        print(f"  {name:36s} {each['runs']:5.2f} runs {each['calls']:6.1f} inner calls {each['us']:7.1f} us per event")
    print("  by event type: events, round trips, commands sent, Redis CPU us, top-level commands, us in commands")
    for kind, each in result["by_type"].items():
        print(f"  {kind:18s} {each['events']:4d} {each['round_trips'] or 0:5.2f} {each['commands_sent'] or 0:5.2f} "
              f"{each['redis_cpu_us'] or 0:7.1f} {each['top_level_commands'] or 0:5.2f} "
              f"{each['us_in_commands'] or 0:7.1f}"
              f"  {each['scripts']}")  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
