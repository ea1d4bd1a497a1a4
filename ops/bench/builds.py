#!/usr/bin/env python3
"""Two builds of ``yutang serve`` side by side: the CPU one ``/v1/score`` costs each, in interleaved chunks.

    ./yt bench builds --base /path/to/other/checkout [--events 4000] [--chunks 8] [--backend durable]

A change's delta in CPU per event is smaller than what the shared box's load moves
from one minute to the next, so running ``bench api`` on one build and then on the
other compares two minutes of the box. Here both builds serve at once, each on its own
embedded Redis (same settings as ``bench api``: the shipped pack of each build,
``appendfsync always``), and the measured requests are cut into chunks driven to A
then B, B then A... (ops/bench/parts/interleave.py): the same events reach both, so
their data grows alike. ``this`` is the checkout this file is in, ``base`` the one
``--base`` names (a worktree or an unpacked ``git archive`` of another commit); each
server runs its own build (``PYTHONPATH``), with the same interpreter. The last line
is one JSON object: each build's worker and Redis CPU per request, the per-chunk
figures, and the deltas (this - base) with the chunks' paired deltas' range.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.datastore.embedded import EmbeddedRedis, free_port  # noqa: E402
from ops.bench.api import KEY  # noqa: E402
from ops.bench.parts import serving  # noqa: E402
from ops.bench.parts.interleave import Target, interleaved, line, summary  # noqa: E402


def run(args: argparse.Namespace) -> dict[str, Any]:
    builds = {"this": ROOT, "base": Path(args.base).resolve()}
    with tempfile.TemporaryDirectory(prefix="yutang-builds-") as name, ExitStack() as stack:
        tmp = Path(name)
        targets = []
        for label, root in builds.items():
            port = free_port()
            redis = EmbeddedRedis(tmp / label / "redis", port=port, config={"appendfsync": args.appendfsync}).start()
            stack.callback(redis.stop)
            server = serving.serve(root / "rules", redis_url=redis.url, keys=f"{KEY}:bench:score", workdir=tmp / label,
                                   backend=args.backend, extra_env={"PYTHONPATH": str(root)})  # fmt: skip
            stack.callback(serving.stop, server)
            print(f"{label} ({root}): ready after {server.startup_s} s", flush=True)
            targets.append(Target(label, server, [port], [KEY]))
        results = interleaved(targets, events=args.events, warmup=args.warmup, connections=args.connections,
                              chunks=args.chunks)  # fmt: skip
    print(f"\n{args.events} events per build in {args.chunks} interleaved chunks after {args.warmup} warm-up; "
          "worker CPU: total (per-chunk min-max)")  # fmt: skip
    result: dict[str, Any] = {"events": args.events, "chunks": args.chunks, "backend": args.backend or "durable"}
    for label, figures in results.items():
        print(line(label, figures))
        result.update(summary(label, figures))
    paired = [a - b for a, b in zip(result["this_worker_us_chunks"], result["base_worker_us_chunks"], strict=True)]
    result["worker_delta_us"] = result["this_worker_us"] - result["base_worker_us"]
    result["worker_delta_us_chunks"] = [min(paired), round(statistics.median(paired)), max(paired)]
    result["redis_delta_us"] = result["this_redis_us"] - result["base_redis_us"]
    result["errors"] = int(sum(f["errors"] for f in results.values()))
    print(
        f"worker delta (this - base): {result['worker_delta_us']:+} us per request; paired chunks "
        f"min/median/max {paired and result['worker_delta_us_chunks']}; redis {result['redis_delta_us']:+} us"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the other build's checkout (its engine/, api/, rules/)")
    parser.add_argument("--events", type=int, default=4000, help="measured requests per build")
    parser.add_argument("--warmup", type=int, default=600)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--chunks", type=int, default=8, help="measured requests cut into interleaved chunks")
    parser.add_argument("--backend", default=None, choices=["durable", "python"])
    parser.add_argument("--appendfsync", default="always", choices=["always", "everysec", "no"])
    args = parser.parse_args(argv)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
