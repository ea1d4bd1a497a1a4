#!/usr/bin/env python3
"""Where a ``/v1/score`` request's worker CPU goes: py-spy of both workers under ``bench api``'s load, as a table.

    ./yt bench profile_api [--events 6000] [--py-spy py-spy] [--raw out.txt]

Starts the embedded Redis and ``yutang serve --workers 2`` with the shipped pack (as
ops/bench/api.py does), drives ``--warmup`` requests, then samples every worker with
``py-spy record --subprocesses --nonblocking -f raw`` while ``--events`` more requests are
served, reading the workers' CPU per request over the same window. py-spy samples only
threads that are running, so a part's share of the samples is its share of the workers'
CPU, and a part's µs per event = share x worker CPU per request.

Parts (ops/bench/parts/profile_parts.py): each sample goes to the innermost frame that
names one (a redis-py frame under the feature store counts as redis-py); the phases below
the table are inclusive (a phase's own code and everything it calls). py-spy is not a
dependency of the project: ``pip install py-spy`` and pass its command (``--py-spy``,
split like a shell would; it needs ptrace, so root or ``kernel.yama.ptrace_scope=0``).
The last line is one JSON object: worker/Redis CPU per request, samples, and each part's
and phase's µs per event.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.datastore.embedded import EmbeddedRedis, free_port  # noqa: E402
from ops.bench.api import KEY  # noqa: E402
from ops.bench.parts import serving  # noqa: E402
from ops.bench.parts.profile_parts import PARTS, PHASES, attribute, read_raw  # noqa: E402


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="yutang-profile-") as name:
        tmp = Path(name)
        port = free_port()
        redis = EmbeddedRedis(tmp / "redis", port=port).start()
        try:
            server = serving.serve(Path(args.rules), redis_url=redis.url, keys=f"{KEY}:bench:score", workdir=tmp)
            try:
                raw = Path(args.raw) if args.raw else tmp / "profile.txt"
                figures = profiled(server, port, raw, args)
                samples = read_raw(raw)
            finally:
                serving.stop(server)
        finally:
            redis.stop()
    return report(figures, samples, args)


def profiled(server: serving.Served, port: int, raw: Path, args: argparse.Namespace) -> dict[str, float]:
    """Warm up, start py-spy on the serve process and its workers, drive the measured requests, stop py-spy."""
    serving.measure(server, [port], [KEY], events=args.warmup, warmup=0, connections=args.connections)
    spy_cmd = [*shlex.split(args.py_spy), "record", "-p", str(server.process.pid), "--subprocesses", "--nonblocking",
               "-r", str(args.rate), "-f", "raw", "-o", str(raw)]  # fmt: skip
    log = raw.with_suffix(".log")
    with log.open("wb") as out:
        spy = subprocess.Popen(spy_cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        time.sleep(2)  # py-spy attaches to every process before the window opens
        if spy.poll() is not None:
            raise SystemExit(f"py-spy exited: {log.read_text()[-2000:]}")
        figures = serving.measure(server, [port], [KEY], events=args.events, warmup=0, connections=args.connections)
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        try:
            spy.wait(60)
        except subprocess.TimeoutExpired:
            spy.kill()
    if not raw.exists():
        raise SystemExit(f"py-spy wrote no profile: {log.read_text()[-2000:]}")
    return figures


def report(figures: dict[str, float], samples: list[tuple[list[str], int]], args: argparse.Namespace) -> dict[str, Any]:
    worker_us = figures["worker_cpu_us"]
    parts, phases, total = attribute(samples)
    print(f"{figures['served']:.0f} requests, {figures['rps']:.1f} req/s; worker CPU {worker_us:.0f} us, "
          f"Redis CPU {figures['redis_cpu_us']:.0f} us per request; {total} samples")  # fmt: skip
    print("\n| part | share of worker CPU | µs per event |\n|---|---:|---:|")
    result: dict[str, Any] = {
        "events": int(figures["served"]),
        "rps": round(figures["rps"], 1),
        "worker_cpu_us": round(worker_us),
        "redis_cpu_us": round(figures["redis_cpu_us"]),
        "samples": total,
    }
    for part in [p.name for p in PARTS] + ["other"]:
        share = parts.get(part, 0) / total if total else 0.0
        print(f"| {part} | {share * 100:.1f}% | {share * worker_us:.0f} |")
        result[f"part_us:{part}"] = round(share * worker_us)
    print("\n| phase (inclusive) | share | µs per event |\n|---|---:|---:|")
    for phase in PHASES:
        share = phases.get(phase.name, 0) / total if total else 0.0
        print(f"| {phase.name} | {share * 100:.1f}% | {share * worker_us:.0f} |")
        result[f"phase_us:{phase.name}"] = round(share * worker_us)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=6000, help="requests served while py-spy samples")
    parser.add_argument("--warmup", type=int, default=600)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second per process")
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy command (split like a shell would)")
    parser.add_argument("--raw", default=None, help="keep py-spy's raw stacks in this file")
    parser.add_argument("--rules", default=str(ROOT / "rules"))
    parser.add_argument("--from-raw", default=None, help="only sort a kept --raw file (with --worker-us)")
    parser.add_argument("--worker-us", type=float, default=0.0, help="worker CPU per request, for --from-raw")
    args = parser.parse_args(argv)
    if args.from_raw:
        figures = {"worker_cpu_us": args.worker_us, "redis_cpu_us": 0.0, "served": 0.0, "rps": 0.0}
        print(json.dumps(report(figures, read_raw(Path(args.from_raw)), args)))
        return 0
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
