"""What the growth benches share: start ``yutang serve``, drive a fixed number of requests, read the CPU it cost.

A growth bench compares configurations (rule counts, tenant counts, one Redis or a cluster)
in one run. Two things keep that comparison honest on a shared 2-core box:

- **A fixed number of events per configuration, same sequence, fresh Redis.** The cost of a
  scored event grows with the data already in Redis (link groups and windows fill up), so
  a time-boxed run would hand the faster configuration more data and a higher cost per
  event. Every configuration gets the same events (``ops/bench/api.py``'s mix, seeded per
  connection) on a Redis of its own; only ``event_id`` differs.
- **CPU per request, not only throughput.** The workers' CPU (``/proc``, the serve process
  and its children) and Redis's (``INFO cpu``, summed over every master) over the measured
  requests only: the warm-up requests (first plans, first compiles of hot paths) are
  driven and read before the window opens. /proc counts in 10 ms ticks: measure a few
  hundred requests at a time, not a few dozen.

ops/bench/parts/interleave.py measures several servers this way in alternating chunks. The
load generator runs in its own spawned process (asyncio, raw HTTP/1.1 keep-alive), so it
never shares an interpreter with the servers it measures.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from ops.bench.api import _read_response, cpu_seconds, sample_event

SECRET = "bench-secret-0123456789"


@dataclass
class Served:
    """A running ``yutang serve`` and how long it took to answer ``/readyz``."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    startup_s: float

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def serve(
    rules: Path,
    *,
    redis_url: str,
    keys: str,
    workdir: Path,
    workers: int = 2,
    backend: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    startup_timeout: float = 600.0,
) -> Served:
    """Start ``yutang serve`` on ``rules`` against ``redis_url``; return once ``/readyz`` answers 200."""
    from engine.datastore.embedded import free_port

    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "REDIS_URL": redis_url, "YUTANG_API_KEYS": keys, "YUTANG_SECRET": SECRET,
           "YUTANG_LOG_LEVEL": "warning", **(extra_env or {})}  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    port = free_port()
    cmd = [sys.executable, "-m", "engine.cli", "serve", "--workers", str(workers), "--port", str(port),
           "--rules", str(rules), "--data-dir", str(workdir / "data")]  # fmt: skip
    if backend:
        cmd += ["--backend", backend]
    log = workdir / f"serve-{port}.log"
    with log.open("wb") as out:
        started = time.monotonic()
        process = subprocess.Popen(cmd, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
    while time.monotonic() - started < startup_timeout:
        if process.poll() is not None:
            raise SystemExit(f"yutang serve exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return Served(process, port, log, round(time.monotonic() - started, 2))
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    stop(Served(process, port, log, 0.0))
    raise SystemExit(f"yutang serve not ready after {startup_timeout} s: {log.read_text()[-3000:]}")


def serve_floor(*, redis_url: str, workdir: Path, workers: int = 2) -> Served:
    """Start the floor app (ops/bench/parts/api_floor.py) on ``workers`` uvicorn workers; return once it answers."""
    from engine.datastore.embedded import free_port

    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    root = Path(__file__).resolve().parents[3]
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "ops.bench.parts.api_floor:create_floor_app",
           "--app-dir", str(root), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
           "--port", str(port)]  # fmt: skip
    log = workdir / f"floor-{port}.log"
    with log.open("wb") as out:
        started = time.monotonic()
        process = subprocess.Popen(cmd, env={**os.environ, "REDIS_URL": redis_url}, cwd=workdir, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    while time.monotonic() - started < 60:
        if process.poll() is not None:
            raise SystemExit(f"the floor exited: {log.read_text()[-3000:]}")
        try:
            if httpx.post(f"http://127.0.0.1:{port}/floor", json=sample_event(0, 0), timeout=1).status_code < 500:
                return Served(process, port, log, round(time.monotonic() - started, 2))
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(Served(process, port, log, 0.0))
    raise SystemExit(f"the floor did not start: {log.read_text()[-3000:]}")


def stop(server: Served) -> None:
    """SIGTERM the serve process (it stops its workers), kill it if it lingers."""
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(60)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)


def redis_cpu(ports: Sequence[int]) -> float:
    """CPU seconds (user + system) Redis has used, summed over ``ports`` (every master of a cluster)."""
    total = 0.0
    for port in ports:
        client = redis.Redis(port=port)
        try:
            info = client.info("cpu")
        finally:
            client.close()
        total += float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return total


def measure(
    server: Served,
    redis_ports: Sequence[int],
    keys: Sequence[str],
    *,
    events: int,
    warmup: int,
    connections: int,
    path: str = "/v1/score",
) -> dict[str, float]:
    """Warm up, then drive ``events`` requests and return throughput, latency and CPU per request."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        if warmup:
            pool.apply(drive, (server.port, path, list(keys), connections, warmup, 1_000_000))
        stages = stage_seconds(server)
        workers, store = cpu_seconds(server.process.pid), redis_cpu(redis_ports)
        figures = pool.apply(drive, (server.port, path, list(keys), connections, events, 0))
    served = figures["served"] or 1.0
    figures["worker_cpu_us"] = (cpu_seconds(server.process.pid) - workers) / served * 1e6
    figures["redis_cpu_us"] = (redis_cpu(redis_ports) - store) / served * 1e6
    after = stage_seconds(server)
    for stage, (total, count) in after.items():
        done = count - stages.get(stage, (0.0, 0.0))[1]
        if done > 0:  # mean wall time of the stage in the window: evaluation is CPU-bound, the others wait on Redis
            figures[f"{stage}_stage_us"] = (total - stages.get(stage, (0.0, 0.0))[0]) / done * 1e6
    return figures


_STAGE = re.compile(r'^yutang_stage_duration_seconds_(sum|count)\{stage="(\w+)"\} (\S+)$', re.MULTILINE)


def stage_seconds(server: Served) -> dict[str, tuple[float, float]]:
    """``/v1/score``'s stage histograms from ``/metrics`` (summed over workers): stage -> (seconds, count)."""
    try:
        text = httpx.get(server.base + "/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    found: dict[str, list[float]] = {}
    for kind, stage, value in _STAGE.findall(text):
        found.setdefault(stage, [0.0, 0.0])[kind == "count"] += float(value)
    return {stage: (pair[0], pair[1]) for stage, pair in found.items()}


def drive(
    port: int, path: str, keys: list[str], connections: int, events: int, seed: int, latencies: bool = False
) -> dict[str, Any]:
    """Send ``events`` requests over ``connections`` keep-alive connections (connection i uses keys[i % n]).

    The events are ops/bench/api.py's mix, seeded by ``seed`` and the connection: two calls
    with the same arguments send the same customers, devices and amounts (fresh event ids).
    """
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_drive(port, path, keys, connections, events, seed, latencies))


async def _drive(
    port: int, path: str, keys: list[str], connections: int, events: int, seed: int, keep: bool
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    degraded = 0
    share = [events // connections + (i < events % connections) for i in range(connections)]

    async def connection(conn: int) -> None:
        nonlocal degraded
        rng = random.Random(seed + conn)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        auth = f"Authorization: Bearer {keys[conn % len(keys)]}\r\n"
        try:
            for n in range(share[conn]):
                body = json.dumps(sample_event(conn, seed + n, rng)).encode()
                head = (f"POST {path} HTTP/1.1\r\nHost: bench\r\n{auth}"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
                sent = time.perf_counter()
                writer.write(head + body)
                status, answer = await _read_response(reader)
                latencies.append(time.perf_counter() - sent)
                statuses[status] = statuses.get(status, 0) + 1
                degraded += b'"degraded":true' in answer  # failed open/closed (a timeout, the breaker): cheaper
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    figures: dict[str, Any] = {
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0,
        "served": float(len(latencies)),
        "errors": float(sum(n for status, n in statuses.items() if status != 200)),
        "degraded": float(degraded),
        "seconds": elapsed,
    }
    if keep:
        figures["latencies"] = latencies
    return figures
