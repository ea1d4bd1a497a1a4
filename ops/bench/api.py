"""Benchmark POST /v1/score against a floor measured in the same run, on the same workers.

Starts the embedded Redis, then in turn (1) the floor app (parts/api_floor.py: validate the
Event model + one pipelined Redis round trip) and (2) ``yutang serve`` with the
shipped pack, each on N uvicorn workers; drives each with the same load generator
(a separate process: asyncio, raw HTTP/1.1 keep-alive connections, a realistic mix
of shipped-pack events with fresh event ids) and prints throughput, latency and
the CPU each request cost the server's processes and Redis (read from /proc and
INFO cpu, divided by every request served, warm-up included). The last line is one
JSON object: score_rps, floor_rps, ratio, p50_ms, p99_ms, the four CPU figures and
score_degraded (answers that failed open or closed: cheaper than the work measured, so a
run with many of them flatters the score).

    ./yt bench api [--workers 2] [--seconds 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.datastore.embedded import EmbeddedRedis, free_port  # noqa: E402

KEY = "bench-key-0123456789abcdef"
TYPES = ["signup", "coupon_claim", "red_packet_claim", "referral", "order", "group_buy_join"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yutang-bench-") as tmp:
        redis = EmbeddedRedis(Path(tmp) / "redis").start()
        try:
            env = {**os.environ, "REDIS_URL": redis.url, "YUTANG_API_KEYS": f"{KEY}:bench:score",
                   "YUTANG_SECRET": "bench-secret-0123456789", "YUTANG_LOG_LEVEL": "warning"}  # fmt: skip
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)
            floor_cmd = [
                sys.executable, "-m", "uvicorn", "--factory", "ops.bench.parts.api_floor:create_floor_app",
                "--app-dir", str(ROOT), "--workers", str(args.workers), "--log-level", "warning", "--no-access-log",
            ]  # fmt: skip
            floor = run_server(floor_cmd, env, "/floor", args, cwd=tmp, health=None, redis_url=redis.url)
            score_cmd = [sys.executable, "-m", "engine.cli", "serve", "--workers", str(args.workers),
                         "--rules", args.rules, "--data-dir", str(Path(tmp) / "data")]  # fmt: skip
            score = run_server(score_cmd, env, "/v1/score", args, cwd=tmp, health="/readyz", redis_url=redis.url)
        finally:
            redis.stop()
    report("floor", floor)
    report("score", score)
    result = {
        "score_rps": round(score["rps"], 1),
        "floor_rps": round(floor["rps"], 1),
        "ratio": round(score["rps"] / floor["rps"], 3) if floor["rps"] else 0.0,
        "p50_ms": round(score["p50_ms"], 3),
        "p99_ms": round(score["p99_ms"], 3),
        "score_server_cpu_us": round(score["server_cpu_us"]),
        "score_redis_cpu_us": round(score["redis_cpu_us"]),
        "floor_server_cpu_us": round(floor["server_cpu_us"]),
        "floor_redis_cpu_us": round(floor["redis_cpu_us"]),
        "score_degraded": int(score["degraded"]),  # answers that failed open/closed (a timeout, the breaker)
        # Redis's own figures per request: time inside scripts (commandstats usec), bytes in and out, reads
        **{
            f"score_redis_{name}": round(score[f"redis_{name}"], 1)
            for name in ("script_us", "bytes_in", "bytes_out", "reads")
        },
    }
    print(json.dumps(result))
    return 0


def run_server(
    cmd: list[str],
    env: dict[str, str],
    path: str,
    args: argparse.Namespace,
    *,
    cwd: str,
    health: str | None,
    redis_url: str,
) -> dict[str, float]:
    port = free_port()
    full = [*cmd, "--port", str(port)]
    log = open(Path(cwd) / f"server-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(full, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", health or path, process, log.name)
        workers, redis_before = cpu_seconds(process.pid), redis_cpu_seconds(redis_url)
        inside_before = redis_inside(redis_url)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            figures = pool.apply(load, (port, path, args.connections, args.warmup, args.seconds))
        served = figures["served"] or 1.0
        figures["server_cpu_us"] = (cpu_seconds(process.pid) - workers) / served * 1e6
        figures["redis_cpu_us"] = (redis_cpu_seconds(redis_url) - redis_before) / served * 1e6
        inside = redis_inside(redis_url)
        for name, value in inside.items():
            figures[f"redis_{name}"] = (value - inside_before[name]) / served
        return figures
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its live children: the server and its workers."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


def redis_cpu_seconds(url: str) -> float:
    import redis

    client = redis.Redis.from_url(url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def redis_inside(url: str) -> dict[str, float]:
    """Redis's time inside scripts (commandstats usec of EVAL/EVALSHA: their inner calls included), its bytes in
    and out and its event-loop reads: the rest of its CPU is outside commands (parsing, replies, the AOF, the loop)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        stats, info = client.info("commandstats"), client.info("stats")
    finally:
        client.close()
    scripts = sum(float(stats.get(f"cmdstat_{name}", {}).get("usec", 0)) for name in ("evalsha", "eval"))
    return {
        "script_us": scripts,
        "bytes_in": float(info["total_net_input_bytes"]),
        "bytes_out": float(info["total_net_output_bytes"]),
        "reads": float(info["total_reads_processed"]),
    }


#: Seconds a server gets to answer after its start: each worker compiles the pack, and on the shared box at
#: load 25-35 two workers took more than 60 s, then more than 180 (ops/bench/parts/serving.py waits 600).
STARTUP_S = 600


def wait_ready(base: str, path: str, process: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {Path(log).read_text()}")
        try:
            r = (
                httpx.get(base + path, timeout=1)
                if path == "/readyz"
                else httpx.post(base + path, json=sample_event(0, 0), timeout=1)
            )
            if r.status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server did not start: {Path(log).read_text()}")


def sample_event(conn: int, n: int, rng: random.Random | None = None) -> dict[str, object]:
    """A shipped-pack event: 2,000 customers on 1,500 devices, a few hot IPs and referrers."""
    rng = rng or random.Random(n)
    type_ = TYPES[n % len(TYPES)]
    customer = rng.randrange(2000)
    body: dict[str, object] = {
        "event_id": f"b{conn}-{n}-{time.time_ns()}", "type": type_, "customer": f"c{customer}",
        "device": f"dev{rng.randrange(1500)}", "ip": f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(256)}",
        "phone": f"13{rng.randrange(10**9):09d}", "campaign": "newcomer_gift",
        "attributes": {"claim_ms": rng.randrange(200, 5000), "emulator": False},
    }  # fmt: skip
    if type_ == "referral":
        body["referrer"] = f"c{rng.randrange(200)}"
    if type_ == "group_buy_join":
        body["group"] = f"g{rng.randrange(300)}"
    if type_ == "order":
        body["amount"] = rng.choice([99, 699, 1500, 5000])
    return body


def load(port: int, path: str, connections: int, warmup: float, seconds: float) -> dict[str, float]:
    """Drive ``path`` with keep-alive connections; return rps and latency percentiles."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(_load(port, path, connections, warmup, seconds))


async def _load(port: int, path: str, connections: int, warmup: float, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = served = degraded = 0
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    async def connection(conn: int) -> None:
        nonlocal errors, served, degraded
        rng = random.Random(conn)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = 0
        while time.perf_counter() < stop_at:
            body = json.dumps(sample_event(conn, n, rng)).encode()
            n += 1
            head = (f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {KEY}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
            sent = time.perf_counter()
            writer.write(head + body)
            status, answer = await _read_response(reader)
            done = time.perf_counter()
            served += 1
            degraded += b'"degraded":true' in answer  # failed open/closed: cheap, and not the work measured
            if status != 200:
                errors += 1
            elif done >= measure_from and done < stop_at:
                latencies.append(done - sent)
        writer.close()

    await asyncio.gather(*(connection(i) for i in range(connections)))
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0,
        "errors": float(errors),
        "degraded": float(degraded),
        "requests": float(len(latencies)),
        "served": float(served),  # warm-up included: what the CPU figures are divided by
    }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
    return status, await reader.readexactly(length)


def report(name: str, figures: dict[str, float]) -> None:
    print(f"{name:6s} {figures['rps']:9.1f} req/s  p50 {figures['p50_ms']:7.3f} ms  p99 {figures['p99_ms']:7.3f} ms  "
          f"errors {int(figures['errors'])}  degraded {int(figures['degraded'])}  "
          f"({int(figures['requests'])} measured)  "
          f"CPU per request: server {figures['server_cpu_us']:.0f} us, "
          f"redis {figures['redis_cpu_us']:.0f} us ({figures['redis_script_us']:.0f} in scripts, "
          f"{figures['redis_bytes_in']:.0f} B in, {figures['redis_bytes_out']:.0f} B out, "
          f"{figures['redis_reads']:.2f} reads)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
