#!/usr/bin/env python3
"""Throughput and CPU per ``/v1/score`` request on a local 3-master Redis Cluster against one Redis, one run.

    ./yt bench growth_cluster [--events 4000] [--chunks 8] [--rules rules]

Starts one embedded Redis and a local 3-master cluster (engine/datastore/local_cluster.py),
both with ``appendfsync no`` (the cluster's setting, so the disk does not tell them apart),
and serves the shipped pack with ``yutang serve --workers 2`` on each, both at once; each
gets the same ``--events`` requests after ``--warmup`` (ops/bench/api.py's event mix), in
``--chunks`` interleaved chunks (ops/bench/parts/interleave.py). Redis CPU is summed over
the three masters. On one box the three masters share the two cores with the workers and
the load generator, so the cluster shows what it costs per event (more round trips: one per
slot a request touches, and the cluster client's routing), not the throughput three
machines would give. The last line is
one JSON object: ``single_*`` and ``cluster_*`` figures and ``cluster_worker_ratio`` /
``cluster_redis_ratio`` / ``cluster_rps_ratio`` (cluster over single).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.datastore.embedded import EmbeddedRedis, free_port  # noqa: E402
from engine.datastore.local_cluster import start_local_cluster  # noqa: E402
from ops.bench.api import KEY  # noqa: E402
from ops.bench.parts import serving  # noqa: E402
from ops.bench.parts.interleave import Target, interleaved, line, summary  # noqa: E402


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="yutang-growth-cluster-") as name, ExitStack() as stack:
        tmp = Path(name)
        port = free_port()
        single = EmbeddedRedis(tmp / "single", port=port, config={"appendfsync": "no"}).start()
        stack.callback(single.stop)
        cluster = start_local_cluster(tmp / "cluster")
        stack.callback(cluster.stop)
        targets = []
        for mode, url, ports in (("single", single.url, [port]), ("cluster", cluster.url, cluster.ports)):
            server = serving.serve(Path(args.rules), redis_url=url, keys=f"{KEY}:bench:score", workdir=tmp / mode)
            stack.callback(serving.stop, server)
            print(f"{mode}: ready after {server.startup_s} s", flush=True)
            targets.append(Target(mode, server, ports, [KEY]))
        results = interleaved(targets, events=args.events, warmup=args.warmup, connections=args.connections,
                              chunks=args.chunks)  # fmt: skip
    print(f"\n{args.events} events each in {args.chunks} interleaved chunks after {args.warmup} warm-up; "
          "CPU: total (per-chunk min-max); cluster Redis CPU summed over 3 masters")  # fmt: skip
    result: dict[str, Any] = {"events": args.events, "chunks": args.chunks, "workers": 2, "masters": 3}
    for mode, figures in results.items():
        print(line(mode, figures))
        result.update(summary(mode, figures))
        result[f"{mode}_redis_us_chunks"] = figures["redis_cpu_us_chunks"]
    for name in ("worker_us", "redis_us", "rps"):
        base = result[f"single_{name}"]
        result[f"cluster_{name.removesuffix('_us')}_ratio"] = round(result[f"cluster_{name}"] / base, 3) if base else 0
    result["errors"] = int(sum(f["errors"] for f in results.values()))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=4000, help="measured requests per configuration and round")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--chunks", type=int, default=8, help="measured requests cut into interleaved chunks")
    parser.add_argument("--rules", default=str(ROOT / "rules"), help="the pack served (default: the shipped pack)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
