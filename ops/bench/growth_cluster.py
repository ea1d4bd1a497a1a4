#!/usr/bin/env python3
"""Throughput and CPU per ``/v1/score`` request on a local 3-master Redis Cluster against one Redis, one run.

    ./yt bench growth_cluster [--events 4000] [--rounds 2] [--rules rules]

Starts one embedded Redis and a local 3-master cluster (engine/datastore/local_cluster.py),
both with ``appendfsync no`` (the cluster's setting, so the disk does not tell them apart),
then in alternating rounds serves the shipped pack with ``yutang serve --workers 2`` on each
(every master flushed first) and drives the same ``--events`` requests after ``--warmup``
(ops/bench/api.py's event mix). Redis CPU is summed over the three masters. On one box the
three masters share the two cores with the workers and the load generator, so the cluster
shows what it costs per event (more round trips: one per slot a request touches, and the
cluster client's routing), not the throughput three machines would give. The last line is
one JSON object: ``single_*`` and ``cluster_*`` medians and ``cluster_worker_ratio`` /
``cluster_redis_ratio`` / ``cluster_rps_ratio`` (cluster over single).
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
from engine.datastore.local_cluster import start_local_cluster  # noqa: E402
from ops.bench.api import KEY  # noqa: E402
from ops.bench.parts import serving  # noqa: E402


def run(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {"single": [], "cluster": []}
    with tempfile.TemporaryDirectory(prefix="yutang-growth-cluster-") as name:
        tmp = Path(name)
        port = free_port()
        single = EmbeddedRedis(tmp / "single", port=port, config={"appendfsync": "no"}).start()
        cluster = None
        try:
            cluster = start_local_cluster(tmp / "cluster")
            targets = {"single": (single.url, [port]), "cluster": (cluster.url, cluster.ports)}
            for round_ in range(args.rounds):
                for mode in ("single", "cluster") if round_ % 2 == 0 else ("cluster", "single"):
                    url, ports = targets[mode]
                    serving.flush(ports)
                    server = serving.serve(Path(args.rules), redis_url=url, keys=f"{KEY}:bench:score",
                                           workdir=tmp / f"{mode}-{round_}")  # fmt: skip
                    try:
                        figures = serving.measure(server, ports, [KEY], events=args.events, warmup=args.warmup,
                                                  connections=args.connections)  # fmt: skip
                    finally:
                        serving.stop(server)
                    runs[mode].append(figures)
                    print(serving.row(f"{mode} (round {round_ + 1})", [figures]), flush=True)
        finally:
            if cluster is not None:
                cluster.stop()
            single.stop()
    return summarize(runs, args)


def summarize(runs: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> dict[str, Any]:
    print(f"\nmedian (min-max) of {args.rounds} round(s), {args.events} events each after {args.warmup} warm-up:")
    result: dict[str, Any] = {"events": args.events, "rounds": args.rounds, "workers": 2, "masters": 3}
    for mode, each in runs.items():
        print(serving.row(mode, each))
        for name, key, digits in (("rps", "rps", 1), ("worker_us", "worker_cpu_us", 0),
                                  ("redis_us", "redis_cpu_us", 0), ("p99_ms", "p99_ms", 2)):  # fmt: skip
            value = statistics.median(r[key] for r in each)
            result[f"{mode}_{name}"] = round(value, digits) if digits else round(value)
        result[f"{mode}_worker_us_spread"] = serving.spread([r["worker_cpu_us"] for r in each])
        result[f"{mode}_redis_us_spread"] = serving.spread([r["redis_cpu_us"] for r in each])
    for name in ("worker_us", "redis_us", "rps"):
        base = result[f"single_{name}"]
        result[f"cluster_{name.removesuffix('_us')}_ratio"] = round(result[f"cluster_{name}"] / base, 3) if base else 0
    result["errors"] = int(sum(r["errors"] for each in runs.values() for r in each))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=4000, help="measured requests per configuration and round")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="single and cluster alternate, first order flips")
    parser.add_argument("--rules", default=str(ROOT / "rules"), help="the pack served (default: the shipped pack)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
