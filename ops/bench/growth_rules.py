#!/usr/bin/env python3
"""CPU per scored event as the pack grows: 100 / 500 / 1,000 generated rules, both backends, over HTTP.

    ./yt bench growth_rules [--sizes 100,500,1000] [--backends durable,python] [--events 3000] [--chunks 6]

For each size a generated pack (ops/bench/parts/engine_packs.py: the engine bench's rules,
the same 15 features whatever the size, so what grows is the rules) is served by
``yutang serve --workers 2 --backend B``, each configuration on an embedded Redis of its
own, all running at once beside the floor (ops/bench/parts/api_floor.py; ``--no-floor``
skips it). Every configuration gets the same ``--events`` requests (ops/bench/api.py's
event mix) after ``--warmup``, cut into ``--chunks`` chunks driven in turn, the order
flipping each chunk (ops/bench/parts/interleave.py says why). Printed per configuration:
start-up time (every worker compiles the pack), throughput, p99, worker and Redis CPU per
request (with the spread of the chunks), and the evaluation stage's mean wall time from
the server's own ``yutang_stage_duration_seconds`` (rules, score, decision; wall time, so
on a loaded box it carries preemption). The last line is one JSON object:
``<backend>_<size>_worker_us`` and friends, and ``<backend>_worker_growth`` = worker CPU per
event at the largest size over the smallest.
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
from ops.bench.api import KEY  # noqa: E402
from ops.bench.parts import serving  # noqa: E402
from ops.bench.parts.engine_packs import generate_pack  # noqa: E402
from ops.bench.parts.interleave import Target, interleaved, line, summary  # noqa: E402


def write_pack(root: Path, size: int) -> Path:
    """The generated pack of ``size`` rules as a directory ``yutang serve --rules`` reads."""
    target = root / f"pack-{size}"
    target.mkdir(parents=True, exist_ok=True)
    for name, text in generate_pack(size).items():
        (target / name).write_text(text, encoding="utf-8")
    return target


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory(prefix="yutang-growth-rules-") as name, ExitStack() as stack:
        tmp = Path(name)
        targets = []
        if args.floor:
            port, url = _redis(stack, tmp / "floor", args)
            server = serving.serve_floor(redis_url=url, workdir=tmp / "floor")
            stack.callback(serving.stop, server)
            targets.append(Target("floor", server, [port], [KEY], path="/floor"))
        for backend in backends:
            for size in sizes:
                label = f"{backend}_{size}"
                port, url = _redis(stack, tmp / label, args)
                server = serving.serve(write_pack(tmp, size), redis_url=url, keys=f"{KEY}:bench:score",
                                       workdir=tmp / label, backend=backend)  # fmt: skip
                stack.callback(serving.stop, server)
                print(f"{backend} {size} rules: ready after {server.startup_s} s (each worker compiled it)", flush=True)
                targets.append(Target(label, server, [port], [KEY]))
        results = interleaved(targets, events=args.events, warmup=args.warmup, connections=args.connections,
                              chunks=args.chunks)  # fmt: skip
        startup = {t.label: t.server.startup_s for t in targets}
    print(f"\n{args.events} events per configuration in {args.chunks} interleaved chunks after {args.warmup} warm-up; "
          "worker CPU: total (per-chunk min-max)")  # fmt: skip
    result: dict[str, Any] = {"events": args.events, "chunks": args.chunks, "workers": 2}
    for label, figures in results.items():
        print(line(label.replace("_", " "), figures))
        result.update(summary(label, figures))
        if label != "floor":
            result[f"{label}_startup_s"] = startup[label]
    for backend in backends:
        small, large = result[f"{backend}_{sizes[0]}_worker_us"], result[f"{backend}_{sizes[-1]}_worker_us"]
        result[f"{backend}_worker_growth"] = round(large / small, 3) if small else 0.0
    result["errors"] = int(sum(f["errors"] for f in results.values()))
    return result


def _redis(stack: ExitStack, where: Path, args: argparse.Namespace) -> tuple[int, str]:
    """A Redis of this configuration's own: fresh data, its own CPU counter."""
    port = free_port()
    server = EmbeddedRedis(where / "redis", port=port, config={"appendfsync": args.appendfsync}).start()
    stack.callback(server.stop)
    return port, server.url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,500,1000", help="rule counts, smallest first")
    parser.add_argument("--backends", default="durable,python")
    parser.add_argument("--events", type=int, default=3000, help="measured requests per configuration")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--chunks", type=int, default=6, help="measured requests cut into interleaved chunks")
    parser.add_argument("--appendfsync", default="everysec", choices=["always", "everysec", "no"])
    parser.add_argument("--no-floor", dest="floor", action="store_false")
    args = parser.parse_args(argv)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
