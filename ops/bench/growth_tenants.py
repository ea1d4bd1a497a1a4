#!/usr/bin/env python3
"""CPU per ``/v1/score`` request for one tenant while the server holds 1 / 100 / 1,000 tenants, over HTTP.

    ./yt bench growth_tenants [--counts 1,100,1000] [--own-counts 1,100] [--rules 100] [--tenant-rules 20]

Two kinds of tenant, as a deployment has them, each at every count (``yutang serve
--workers 2``, one embedded Redis flushed before each configuration, the same ``--events``
requests for tenant t0 after ``--warmup``):

- **base**: ``--counts`` tenants with an API key and no pack of their own; all run the
  platform's base pack (a generated pack of ``--rules`` rules, ops/bench/parts/engine_packs.py).
  Start-up compiles the base once per worker whatever the count.
- **own**: ``--own-counts`` tenants, each with its own layer ``rules/tenants/t<i>/``
  (``--tenant-rules`` generated rules of its own, added to the base's). Start-up compiles
  every tenant's pack in every worker (python backend, ``YUTANG_TENANT_BACKEND``'s default),
  so it is printed: it is what 1,000 own packs cost, not the request. ``--own-counts
  1,100,1000`` measures 1,000 (about 1,000 x the per-pack compile time per worker).

Printed per configuration: start-up seconds, throughput, p99, worker and Redis CPU per
request; per kind, the CPU at the largest count over the smallest (``<kind>_worker_growth``).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.datastore.embedded import EmbeddedRedis, free_port  # noqa: E402
from ops.bench.parts import serving  # noqa: E402
from ops.bench.parts.engine_packs import generate_pack  # noqa: E402


def key_of(index: int) -> str:
    return f"bench-growth-key-{index:06d}"


def tenant_layer(index: int, rules: int) -> str:
    """Tenant ``index``'s own rules: generated with its own seed, ids and codes of its own (added to the base)."""
    own = generate_pack(rules, seed=1000 + index)["rules.yaml"].partition("\nrules:\n")[2]
    own = re.sub(r"- id: r(\d+)", rf"- id: t{index}_r\1", own)
    own = re.sub(r"code: 1(\d{4})", r"code: 2\1", own)  # codes are unique per compiled pack: base + this layer
    return "rules:\n" + own


def write_rules(root: Path, *, rules: int, own: int, tenant_rules: int) -> Path:
    """A rules directory: the generated base pack, and ``own`` tenants' layers under tenants/."""
    target = root / "rules"
    target.mkdir(parents=True, exist_ok=True)
    for name, text in generate_pack(rules).items():
        (target / name).write_text(text, encoding="utf-8")
    for index in range(own):
        layer = target / "tenants" / f"t{index}"
        layer.mkdir(parents=True, exist_ok=True)
        (layer / "rules.yaml").write_text(tenant_layer(index, tenant_rules), encoding="utf-8")
    return target


def keys(count: int) -> str:
    return ",".join(f"{key_of(i)}:t{i}:score" for i in range(count))


def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = [("base", n) for n in _counts(args.counts)] + [("own", n) for n in _counts(args.own_counts)]
    runs: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="yutang-growth-tenants-") as name:
        tmp = Path(name)
        port = free_port()
        redis = EmbeddedRedis(tmp / "redis", port=port, config={"appendfsync": args.appendfsync}).start()
        try:
            for kind, count in plan:
                rules = write_rules(tmp / f"{kind}-{count}", rules=args.rules,
                                    own=count if kind == "own" else 0, tenant_rules=args.tenant_rules)  # fmt: skip
                serving.flush([port])
                print(f"{kind} x{count}: starting ...", flush=True)
                server = serving.serve(rules, redis_url=redis.url, keys=keys(count), workdir=tmp / f"{kind}-{count}",
                                       startup_timeout=args.startup_timeout)  # fmt: skip
                try:
                    figures = serving.measure(server, [port], [key_of(0)], events=args.events, warmup=args.warmup,
                                              connections=args.connections)  # fmt: skip
                finally:
                    serving.stop(server)
                figures["startup_s"] = server.startup_s
                runs[f"{kind}_{count}"] = figures
                print(serving.row(f"{kind} x{count}", [figures]) + f"   start-up {server.startup_s} s", flush=True)
        finally:
            redis.stop()
    return summarize(runs, args)


def _counts(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n.strip()]


def summarize(runs: dict[str, dict[str, float]], args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"events": args.events, "rules": args.rules, "tenant_rules": args.tenant_rules}
    for label, figures in runs.items():
        result[f"{label}_rps"] = round(figures["rps"], 1)
        result[f"{label}_worker_us"] = round(figures["worker_cpu_us"])
        result[f"{label}_redis_us"] = round(figures["redis_cpu_us"])
        result[f"{label}_p99_ms"] = round(figures["p99_ms"], 2)
        result[f"{label}_startup_s"] = figures["startup_s"]
        if "evaluation_stage_us" in figures:  # the evaluation stage's mean time (/metrics): the tenant's set looked up
            result[f"{label}_eval_us"] = round(figures["evaluation_stage_us"])
    for kind in ("base", "own"):
        labels = [label for label in runs if label.startswith(kind + "_")]
        if len(labels) > 1:
            first, last = runs[labels[0]]["worker_cpu_us"], runs[labels[-1]]["worker_cpu_us"]
            result[f"{kind}_worker_growth"] = round(last / first, 3) if first else 0.0
    result["errors"] = int(sum(f["errors"] for f in runs.values()))
    result["worker_us_spread"] = serving.spread([f["worker_cpu_us"] for f in runs.values()]) if runs else {}
    result["median_worker_us"] = round(statistics.median(f["worker_cpu_us"] for f in runs.values())) if runs else 0
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="1,100,1000", help="tenants on the base pack (no pack of their own)")
    parser.add_argument("--own-counts", default="1,100", help="tenants with a layer of their own ('' skips)")
    parser.add_argument("--rules", type=int, default=100, help="rules in the base pack")
    parser.add_argument("--tenant-rules", type=int, default=20, help="rules in each tenant's own layer")
    parser.add_argument("--events", type=int, default=3000, help="measured requests per configuration")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--appendfsync", default="everysec", choices=["always", "everysec", "no"])
    parser.add_argument("--startup-timeout", type=float, default=3600.0)
    args = parser.parse_args(argv)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
