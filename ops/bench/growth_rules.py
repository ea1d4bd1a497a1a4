#!/usr/bin/env python3
"""CPU per scored event as the pack grows: 100 / 500 / 1,000 generated rules, both backends, over HTTP.

    ./yt bench growth_rules [--sizes 100,500,1000] [--backends durable,python] [--events 3000] [--rounds 2]

For each size a generated pack (ops/bench/parts/engine_packs.py: the engine bench's rules,
the same 15 features whatever the size, so what grows is the rules) is written to a
directory and served by ``yutang serve --workers 2 --backend B`` on one embedded Redis,
flushed before each configuration; every configuration gets the same ``--events`` requests
(ops/bench/api.py's event mix) after ``--warmup`` requests, and the bench prints throughput,
p99, worker CPU and Redis CPU per request and the start-up time (every worker compiles the
pack), and the evaluation stage's mean time per request from the server's own
``yutang_stage_duration_seconds`` (``/metrics``: rules, score, decision; CPU-bound, so the
part of the worker CPU that grows with the rules, seen apart from the noise of the rest).
The floor (ops/bench/parts/api_floor.py) runs first in the same run as the scale
(``--no-floor`` skips it). With ``--rounds N`` the configurations run N times, alternating,
and every figure is the median with its spread. The last line is one JSON object:
``<backend>_<size>_worker_us`` and friends, and ``<backend>_worker_growth`` = worker CPU per
event at the largest size over the smallest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.datastore.embedded import EmbeddedRedis, free_port  # noqa: E402
from ops.bench.api import KEY  # noqa: E402
from ops.bench.parts import serving  # noqa: E402
from ops.bench.parts.engine_packs import generate_pack  # noqa: E402


def write_pack(root: Path, size: int) -> Path:
    """The generated pack of ``size`` rules as a directory ``yutang serve --rules`` reads."""
    target = root / f"pack-{size}"
    target.mkdir(parents=True, exist_ok=True)
    for name, text in generate_pack(size).items():
        (target / name).write_text(text, encoding="utf-8")
    return target


def floor_run(port: int, url: str, tmp: Path, args: argparse.Namespace) -> dict[str, float]:
    """The floor app on the same workers and Redis: FastAPI, the Event model, one round trip."""
    server = serving.serve_floor(redis_url=url, workdir=tmp / "floor")
    try:
        return serving.measure(server, [port], [KEY], events=args.events, warmup=args.warmup,
                               connections=args.connections, path="/floor")  # fmt: skip
    finally:
        serving.stop(server)


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    runs: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="yutang-growth-rules-") as name:
        tmp = Path(name)
        packs = {size: write_pack(tmp, size) for size in sizes}
        port = free_port()
        redis = EmbeddedRedis(tmp / "redis", port=port, config={"appendfsync": args.appendfsync}).start()
        try:
            if args.floor:
                runs["floor"] = [floor_run(port, redis.url, tmp, args)]
                print(serving.row("floor", runs["floor"]), flush=True)
            for round_ in range(args.rounds):
                order = [(b, s) for b in backends for s in sizes]
                for backend, size in order if round_ % 2 == 0 else order[::-1]:
                    serving.flush([port])
                    server = serving.serve(packs[size], redis_url=redis.url, keys=f"{KEY}:bench:score",
                                           workdir=tmp / f"{backend}-{size}", backend=backend)  # fmt: skip
                    try:
                        figures = serving.measure(server, [port], [KEY], events=args.events,
                                                  warmup=args.warmup, connections=args.connections)  # fmt: skip
                    finally:
                        serving.stop(server)
                    figures["startup_s"] = server.startup_s
                    runs.setdefault(f"{backend}_{size}", []).append(figures)
                    print(
                        serving.row(f"{backend} {size} rules", [figures]) + f"   start-up {server.startup_s} s",
                        flush=True,
                    )
        finally:
            redis.stop()
    return summarize(runs, sizes, backends, args)


def summarize(runs: dict[str, list[dict[str, float]]], sizes: list[int], backends: list[str],
              args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    print(f"\nmedian (min-max) of {args.rounds} round(s), {args.events} events each after {args.warmup} warm-up:")
    for label, each in runs.items():
        print(serving.row(label.replace("_", " "), each))
    result: dict[str, Any] = {"events": args.events, "rounds": args.rounds, "workers": 2}
    for label, each in runs.items():
        result[f"{label}_rps"] = round(statistics.median(r["rps"] for r in each), 1)
        result[f"{label}_worker_us"] = round(statistics.median(r["worker_cpu_us"] for r in each))
        result[f"{label}_redis_us"] = round(statistics.median(r["redis_cpu_us"] for r in each))
        result[f"{label}_p99_ms"] = round(statistics.median(r["p99_ms"] for r in each), 2)
        if all("evaluation_stage_us" in r for r in each):  # the evaluation stage's mean wall time (/metrics)
            result[f"{label}_eval_us"] = round(statistics.median(r["evaluation_stage_us"] for r in each))
        if "startup_s" in each[0]:
            result[f"{label}_startup_s"] = round(statistics.median(r["startup_s"] for r in each), 1)
        if len(each) > 1:
            result[f"{label}_worker_us_spread"] = serving.spread([r["worker_cpu_us"] for r in each])
    for backend in backends:
        small, large = result[f"{backend}_{sizes[0]}_worker_us"], result[f"{backend}_{sizes[-1]}_worker_us"]
        result[f"{backend}_worker_growth"] = round(large / small, 3) if small else 0.0
    result["errors"] = int(sum(r["errors"] for each in runs.values() for r in each))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,500,1000", help="rule counts, smallest first")
    parser.add_argument("--backends", default="durable,python")
    parser.add_argument("--events", type=int, default=3000, help="measured requests per configuration")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="repeat every configuration, alternating the order")
    parser.add_argument("--appendfsync", default="everysec", choices=["always", "everysec", "no"])
    parser.add_argument("--no-floor", dest="floor", action="store_false")
    args = parser.parse_args(argv)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
