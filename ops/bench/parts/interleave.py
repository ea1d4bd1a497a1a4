"""Measure several running servers in interleaved chunks, so that the shared box's load falls on all of them alike.

On this 2-core box, shared with other jobs, the CPU one request costs moves by +-30%
from one minute to the next (preemption, caches, the other jobs' bursts): more than
most of the differences a growth bench is after. Measuring configuration A for a
minute and then B for a minute compares two minutes of the box, not A and B. So every
configuration runs at once, each on its own Redis (fresh data, its own ``INFO cpu``),
and the measured requests are cut into ``chunks``: chunk 1 drives A, B, C, chunk 2
C, B, A, and so on, and each target's CPU is read around its own chunks only. Every
target gets the same events (chunk k sends the same sequence to each), so the data
each one holds grows alike too. Each chunk's CPU per request is kept: their spread is
printed beside the total. Before the chunks, every server's idle CPU (ms per second, no
request in flight: pollers and timers) is read over a few seconds: a server that spends
CPU in the background is charged it in its chunks too, and the idle figure says how much.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ops.bench.api import cpu_seconds
from ops.bench.parts.serving import Served, drive, redis_cpu, stage_seconds


@dataclass
class Target:
    """One configuration: its server, the Redis ports whose CPU it is charged, the keys its requests carry."""

    label: str
    server: Served
    redis_ports: list[int]
    keys: list[str]
    path: str = "/v1/score"
    chunks: list[dict[str, Any]] = field(default_factory=list)


def interleaved(
    targets: Sequence[Target], *, events: int, warmup: int, connections: int, chunks: int, idle: float = 5.0
) -> dict[str, dict[str, Any]]:
    """Warm every target up, read its idle CPU, then drive ``events`` requests to each in alternating chunks."""
    ctx = multiprocessing.get_context("spawn")
    sizes = [events // chunks + (i < events % chunks) for i in range(chunks)]
    with ctx.Pool(1) as pool:
        for target in targets:
            if warmup:
                pool.apply(drive, (target.server.port, target.path, target.keys, connections, warmup, 10_000_000))
        idle_ms = idle_cpu(targets, idle)
        for number, size in enumerate(sizes):
            for target in targets if number % 2 == 0 else list(reversed(targets)):
                target.chunks.append(_chunk(pool, target, connections, size, seed=number * 100_000))
    figures = {target.label: _figures(target) for target in targets}
    for target in targets:
        figures[target.label]["idle_cpu_ms_per_s"] = idle_ms[target.label]
    return figures


def idle_cpu(targets: Sequence[Target], seconds: float) -> dict[str, float]:
    """CPU ms per second each server spends with no request in flight (pollers, timers): part of every chunk too."""
    before = {t.label: cpu_seconds(t.server.process.pid) for t in targets}
    time.sleep(seconds)
    return {t.label: round((cpu_seconds(t.server.process.pid) - before[t.label]) / seconds * 1000, 1) for t in targets}


def _chunk(pool: Any, target: Target, connections: int, size: int, *, seed: int) -> dict[str, Any]:
    stages = stage_seconds(target.server)
    workers, store = cpu_seconds(target.server.process.pid), redis_cpu(target.redis_ports)
    figures: dict[str, Any] = pool.apply(
        drive, (target.server.port, target.path, target.keys, connections, size, seed, True)
    )
    figures["worker_s"] = cpu_seconds(target.server.process.pid) - workers
    figures["redis_s"] = redis_cpu(target.redis_ports) - store
    after = stage_seconds(target.server)
    figures["stages"] = {
        stage: (total - stages.get(stage, (0.0, 0.0))[0], count - stages.get(stage, (0.0, 0.0))[1])
        for stage, (total, count) in after.items()
    }
    return figures


def _figures(target: Target) -> dict[str, Any]:
    """Totals over a target's chunks: CPU per request, throughput, latency, and the spread of its chunks."""
    chunks = target.chunks
    served = sum(c["served"] for c in chunks) or 1.0
    latencies = sorted(lat for c in chunks for lat in c["latencies"])
    per_chunk = [c["worker_s"] / (c["served"] or 1.0) * 1e6 for c in chunks]
    figures: dict[str, Any] = {
        "served": served,
        "errors": sum(c["errors"] for c in chunks),
        "degraded": sum(c.get("degraded", 0.0) for c in chunks),
        "rps": served / (sum(c["seconds"] for c in chunks) or 1.0),
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0,
        "worker_cpu_us": sum(c["worker_s"] for c in chunks) / served * 1e6,
        "redis_cpu_us": sum(c["redis_s"] for c in chunks) / served * 1e6,
        "worker_cpu_us_chunks": [round(v) for v in per_chunk],
        "redis_cpu_us_chunks": [round(c["redis_s"] / (c["served"] or 1.0) * 1e6) for c in chunks],
    }
    for stage in {stage for c in chunks for stage in c["stages"]}:
        total = sum(c["stages"].get(stage, (0.0, 0.0))[0] for c in chunks)
        count = sum(c["stages"].get(stage, (0.0, 0.0))[1] for c in chunks)
        if count > 0:  # the stage's mean *wall* time (/metrics): on a loaded box it includes preemption
            figures[f"{stage}_stage_us"] = total / count * 1e6
    return figures


def line(label: str, figures: dict[str, Any]) -> str:
    """One printed line: totals, and the spread of the per-chunk worker CPU."""
    chunks = figures["worker_cpu_us_chunks"]
    spread = f" ({min(chunks):,}-{max(chunks):,})" if len(chunks) > 1 else ""
    redis_chunks = figures["redis_cpu_us_chunks"]
    redis_spread = f" ({min(redis_chunks):,}-{max(redis_chunks):,})" if len(redis_chunks) > 1 else ""
    evaluation = f"   eval wall {figures['evaluation_stage_us']:,.0f} us" if "evaluation_stage_us" in figures else ""
    return (
        f"{label:<16} {figures['rps']:>8,.1f} req/s   worker {figures['worker_cpu_us']:>6,.0f}{spread:<16} us   "
        f"redis {figures['redis_cpu_us']:>5,.0f}{redis_spread:<12} us{evaluation}   "
        f"p99 {figures['p99_ms']:,.1f} ms   idle {figures['idle_cpu_ms_per_s']:,.1f} ms/s   "
        f"errors {int(figures['errors'])}   degraded {int(figures['degraded'])}"
    )


def summary(label: str, figures: dict[str, Any]) -> dict[str, Any]:
    """The JSON figures of one target, keys prefixed with its label."""
    out: dict[str, Any] = {
        f"{label}_rps": round(figures["rps"], 1),
        f"{label}_worker_us": round(figures["worker_cpu_us"]),
        f"{label}_redis_us": round(figures["redis_cpu_us"]),
        f"{label}_p99_ms": round(figures["p99_ms"], 2),
        f"{label}_worker_us_chunks": figures["worker_cpu_us_chunks"],
        f"{label}_idle_cpu_ms_per_s": figures["idle_cpu_ms_per_s"],
        f"{label}_degraded": int(figures["degraded"]),  # answered without the work measured: CPU per event is low
    }
    if "evaluation_stage_us" in figures:
        out[f"{label}_eval_wall_us"] = round(figures["evaluation_stage_us"])
    return out
