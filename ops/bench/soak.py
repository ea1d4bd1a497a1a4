"""Load and soak: steady traffic, farming-ring bursts and a hot device against ``yutang serve``.

    python ops/bench/soak.py [--minutes 10 | --seconds 60] [--workers 2] [--connections 16] [--cluster]

Starts Redis (the embedded server, or with ``--cluster`` a local 3-master Redis
Cluster from :mod:`engine.datastore.local_cluster`), then ``yutang serve --workers N`` with the
shipped pack, and drives /v1/score over keep-alive HTTP/1.1 connections. Each minute:
40 s of steady traffic (honest parents: signups, coupons, red packets, orders,
referrals), 10 s with a farming ring bursting in (new accounts on a few devices and
IPs, referring each other, claiming red packets), 10 s with one device hammered
(the hot key). Every ``--sample`` seconds it records each worker's RSS and Redis
``used_memory`` (summed over masters). It reports throughput, p50/p99 (overall and
per scenario), errors by status, memory at start and end, and the memory slope over
the second half of the run (MiB per minute: ~0 for workers means no leak; Redis grows
with the distinct entities it keeps for the pack's windows). The last line is one
JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.datastore.embedded import EmbeddedRedis, free_port  # noqa: E402
from engine.datastore.local_cluster import LocalCluster, start_local_cluster  # noqa: E402

KEY = "soak-key-0123456789abcdef"
MIB = 1024 * 1024


# -- scenarios -------------------------------------------------------------------------


def phase(elapsed: float) -> str:
    """Which scenario the current second of the minute belongs to."""
    second = elapsed % 60
    return "steady" if second < 40 else "ring" if second < 50 else "hot"


class Traffic:
    """Event bodies for each scenario; ids never repeat (no idempotent replays)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed  # one Traffic per connection: the seed keeps their ids apart
        self.n = 0

    def _base(self, type_: str, customer: str, **fields: Any) -> dict[str, Any]:
        self.n += 1
        body = {"event_id": f"s{os.getpid()}-{self.seed}-{self.n}", "type": type_, "customer": customer}
        body["timestamp"] = datetime.now(UTC).isoformat()
        body.update(fields)
        return body

    def steady(self) -> dict[str, Any]:
        rng = self.rng
        c = rng.randrange(20_000)
        common = {"device": f"dev-{c}", "ip": f"36.{c % 200}.{rng.randrange(256)}.{rng.randrange(1, 255)}"}
        kind = rng.random()
        if kind < 0.3:
            return self._base("signup", f"cust-{c}", **common)
        if kind < 0.5:
            return self._base("coupon_claim", f"cust-{c}", campaign="newcomer_gift", amount=30, **common)
        if kind < 0.7:
            group = f"parents-{c % 40:02d}"
            return self._base(
                "red_packet_claim", f"cust-{c}", amount=5, group=group, campaign="weekly_welfare", **common
            )
        if kind < 0.85:
            return self._base("order", f"cust-{c}", amount=rng.choice([99, 1500, 5000]), **common)
        return self._base("referral", f"cust-{c}-{self.n}", referrer=f"cust-{c}", **common)

    def ring(self) -> dict[str, Any]:
        """A farming ring: fresh accounts on 3 devices and 2 IPs, referring each other."""
        rng, ring = self.rng, self.n // 500
        account = f"ring{ring}-{self.n}"
        common = {"device": f"farm-{ring}-{rng.randrange(3)}", "ip": f"101.88.{ring % 250}.{rng.randrange(2) + 1}"}
        if rng.random() < 0.5:
            return self._base("referral", account, referrer=f"ring{ring}-{max(self.n - 1, 0)}", **common)
        return self._base(
            "red_packet_claim", account, amount=5, group="parents-01", campaign="weekly_welfare", **common
        )

    def hot(self) -> dict[str, Any]:
        """One device (and ip) hammered by new accounts."""
        common = {"device": "hot-device-1", "ip": "183.6.6.6"}
        if self.rng.random() < 0.5:
            return self._base("signup", f"hot-{self.n}", **common)
        return self._base("coupon_claim", f"hot-{self.n}", campaign="newcomer_gift", amount=30, **common)

    def event(self, scenario: str) -> tuple[str, dict[str, Any]]:
        if scenario == "ring" and self.rng.random() < 0.7:
            return "ring", self.ring()
        if scenario == "hot" and self.rng.random() < 0.5:
            return "hot", self.hot()
        return "steady", self.steady()


# -- HTTP/1.1 keep-alive client -------------------------------------------------------


async def _response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = next((int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:")), 0)
    await reader.readexactly(length)
    return status


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


async def connection(port: int, seed: int, started: float, until: float, results: Results) -> None:
    traffic = Traffic(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (now := time.monotonic()) < until:
            scenario, body = traffic.event(phase(now - started))
            payload = json.dumps(body).encode()
            request = (
                b"POST /v1/score HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            sent = time.perf_counter()
            try:
                writer.write(request)
                status = await _response(reader)
            except (OSError, asyncio.IncompleteReadError) as err:
                results.errors[type(err).__name__] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            results.latencies[scenario].append(time.perf_counter() - sent)
            results.statuses[status] += 1
    finally:
        writer.close()


# -- memory sampling --------------------------------------------------------------------


def redis_used_memory(clients: list[redis.Redis]) -> int:
    return sum(int(c.info("memory")["used_memory"]) for c in clients)


def worker_rss(server: psutil.Process) -> list[int]:
    """RSS of each uvicorn worker (the serve process's spawned children)."""
    found = []
    for child in server.children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child.memory_info().rss)
        except psutil.NoSuchProcess:
            continue
    return found


async def sample(
    server: psutil.Process,
    clients: list[redis.Redis],
    every: float,
    until: float,
    out: list[dict[str, Any]],
    results: Results,
) -> None:
    started = time.monotonic()
    while True:
        rss = worker_rss(server)
        used = await asyncio.to_thread(redis_used_memory, clients)
        done = sum(results.statuses.values())
        out.append({"t": round(time.monotonic() - started, 1), "workers_rss_mib": [round(r / MIB, 1) for r in rss],
                    "redis_used_mib": round(used / MIB, 2), "requests": done})  # fmt: skip
        print(f"  t={out[-1]['t']:>6}s requests={done:>8} workers RSS {out[-1]['workers_rss_mib']} MiB, "
              f"redis {out[-1]['redis_used_mib']} MiB", file=sys.stderr, flush=True)  # fmt: skip
        if time.monotonic() + every > until:
            return
        await asyncio.sleep(every)


def slope_per_minute(samples: list[dict[str, Any]], value: str) -> float:
    """Least-squares slope (MiB per minute) of ``value`` over the second half of the run."""
    half = samples[len(samples) // 2 :]
    if len(half) < 2:
        return 0.0
    xs = [s["t"] / 60 for s in half]
    ys = [sum(s[value]) if isinstance(s[value], list) else s[value] for s in half]
    return round(statistics.linear_regression(xs, ys).slope, 3)


# -- servers ------------------------------------------------------------------------------


def start_yutang(redis_url: str, workers: int, rules: str, tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "YUTANG_API_KEYS": f"{KEY}:soak:score+events+admin",
           "YUTANG_SECRET": "soak-secret-0123456789", "YUTANG_LOG_LEVEL": "warning"}  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--workers", str(workers),
               "--rules", rules, "--data-dir", str(tmp / "data")]  # fmt: skip
    log = open(tmp / "serve.log", "wb")  # noqa: SIM115 - the child writes it
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"yutang serve exited: {(tmp / 'serve.log').read_text()[-2000:]}")
        try:
            import httpx

            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("yutang serve did not become ready")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def drive(
    args: argparse.Namespace, port: int, server: psutil.Process, clients: list[redis.Redis]
) -> tuple[Results, list[dict[str, Any]]]:
    results, samples = Results(), []
    started = time.monotonic()
    until = started + args.seconds
    sampler = asyncio.create_task(sample(server, clients, args.sample, until, samples, results))
    await asyncio.gather(*(connection(port, i, started, until, results) for i in range(args.connections)))
    await sampler
    return results, samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=None, help="overrides --minutes (a short run)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between memory samples")
    parser.add_argument("--cluster", action="store_true", help="a local 3-master Redis Cluster instead of one server")
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    args = parser.parse_args()
    args.seconds = args.seconds if args.seconds is not None else args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="yutang-soak-") as tmp_name:
        tmp = Path(tmp_name)
        cluster: LocalCluster | None = None
        single: EmbeddedRedis | None = None
        if args.cluster:
            cluster = start_local_cluster(tmp / "cluster")
            url, clients = cluster.url, [redis.Redis(port=p) for p in cluster.ports]
        else:
            single = EmbeddedRedis(tmp / "redis", port=free_port()).start()
            url, clients = single.url, [redis.Redis(port=single.port)]
        process = None
        try:
            process, port = start_yutang(url, args.workers, args.rules, tmp)
            mode = "cluster" if cluster else "single"
            print(
                f"soak: {args.seconds:.0f}s, {args.workers} workers, {args.connections} connections, redis {mode}",
                file=sys.stderr,
            )
            results, samples = asyncio.run(drive(args, port, psutil.Process(process.pid), clients))
        finally:
            if process is not None:
                process.terminate()
                process.wait(30)
            for client in clients:
                client.close()
            if cluster:
                cluster.stop()
            if single:
                single.stop()
    every = [v for values in results.latencies.values() for v in values]
    ok = results.statuses.get(200, 0)
    figures = {
        "redis": "cluster" if args.cluster else "single",
        "workers": args.workers,
        "connections": args.connections,
        "seconds": args.seconds,
        "requests": len(every),
        "rps": round(len(every) / args.seconds, 1),
        "p50_ms": round(percentile(every, 0.5), 2),
        "p99_ms": round(percentile(every, 0.99), 2),
        "by_scenario": {
            name: {"requests": len(v), "p50_ms": round(percentile(v, 0.5), 2), "p99_ms": round(percentile(v, 0.99), 2)}
            for name, v in sorted(results.latencies.items())
        },
        "errors": {**{str(s): n for s, n in results.statuses.items() if s != 200}, **results.errors},
        "error_rate": round(1 - ok / max(len(every), 1), 5),
        "workers_rss_mib_start": samples[0]["workers_rss_mib"],
        "workers_rss_mib_end": samples[-1]["workers_rss_mib"],
        "workers_rss_slope_mib_per_min": slope_per_minute(samples, "workers_rss_mib"),
        "redis_used_mib_start": samples[0]["redis_used_mib"],
        "redis_used_mib_end": samples[-1]["redis_used_mib"],
        "redis_slope_mib_per_min": slope_per_minute(samples, "redis_used_mib"),
        "redis_bytes_per_event": round(
            (samples[-1]["redis_used_mib"] - samples[0]["redis_used_mib"]) * MIB / max(len(every), 1)
        ),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
