#!/usr/bin/env python3
"""Many tenants, each with its own 100-rule pack layered on one base: what one worker holds and pays.

    python ops/bench/tenants.py engine [--tenants 1000] [--rules 100] [--backend python]
    python ops/bench/tenants.py http [--tenants 50] [--seconds 8]

``engine`` (one worker's process, in-process): compiles ``--tenants`` distinct generated
packs (ops/bench/parts/engine_packs.py, each a tenant layer of ``--rules`` rules on a
small base) and installs each under its tenant in one ``RuleEngine``, timing compile and
backend build per pack and reading the RSS growth; then times evaluating one tenant's
events (``current_for(tenant).evaluate``: the lookup included) against an engine that
holds that tenant's pack alone, in alternating rounds, CPU time (``process_time``).

``http`` (2 workers, embedded Redis): ``yutang serve`` with ``--tenants`` directory packs;
start-up time; CPU per ``/v1/score`` request against one tenant vs a server holding only
that tenant's pack (read from /proc, as ops/bench/api.py does); one tenant's upload and
the time until fresh connections to both workers all see it; p99 of the other tenants'
requests while that reload compiles, against the p99 before it.

Not run by the test suite (a 3-tenant smoke test is: tests/ops/test_bench_tenants.py).
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.backends import BackendKind  # noqa: E402
from engine.compile.pack import compile_files  # noqa: E402
from engine.datastore.embedded import free_port  # noqa: E402
from engine.events import Event  # noqa: E402
from engine.rule_engine import RuleEngine, assemble, backend_checks  # noqa: E402
from ops.bench.api import _read_response, cpu_seconds, sample_event  # noqa: E402
from ops.bench.parts.engine_packs import generate_inputs, generate_pack  # noqa: E402


def layers(index: int, rules: int) -> tuple[dict[str, str], dict[str, str]]:
    """(base, tenant layer) for tenant ``index``: the same base, a pack of its own per tenant."""
    pack = generate_pack(rules, seed=1000 + index)
    features, _, own = pack["rules.yaml"].partition("\nrules:\n")
    base = {"base/pack.yaml": pack["pack.yaml"], "base/features.yaml": features + "\n"}
    return base, {f"tenants/t{index}/rules.yaml": "rules:\n" + own}


def bench_engine(args: argparse.Namespace) -> dict[str, Any]:
    kind = BackendKind(args.backend)
    process = psutil.Process()
    gc.collect()
    rss_before = process.memory_info().rss
    engine = RuleEngine(ROOT / "rules", backend=kind, keep=2)
    compile_ms: list[float] = []
    build_ms: list[float] = []
    for index in range(args.tenants):
        base, layer = layers(index, args.rules)
        started = time.perf_counter()
        ruleset, diagnostics = compile_files(base, checks=backend_checks(kind), tenant_files=layer)
        compiled = time.perf_counter()
        if ruleset is None:
            raise SystemExit("\n".join(d.render() for d in diagnostics if d.is_error))
        engine.install(assemble(ruleset, diagnostics, base, kind, layer), f"t{index}")
        compile_ms.append((compiled - started) * 1000)
        build_ms.append((time.perf_counter() - compiled) * 1000)
        if (index + 1) % 100 == 0:
            print(f"{index + 1} packs: RSS +{(process.memory_info().rss - rss_before) / 2**20:.0f} MiB", flush=True)
    gc.collect()
    rss_mib = (process.memory_info().rss - rss_before) / 2**20
    alone = RuleEngine(ROOT / "rules", backend=kind)
    base, layer = layers(0, args.rules)
    ruleset, diagnostics = compile_files(base, checks=backend_checks(kind), tenant_files=layer)
    assert ruleset is not None
    alone.install(assemble(ruleset, diagnostics, base, kind, layer), "t0")
    inputs = generate_inputs(args.events, sorted(ruleset.features))
    many_us, one_us = [], []
    for _ in range(args.rounds):
        one_us.append(_evaluate(alone, inputs))
        many_us.append(_evaluate(engine, inputs))
    figures = {
        "backend": kind.value,
        "tenants": args.tenants,
        "rules_per_pack": args.rules,
        "compile_ms_median": round(statistics.median(compile_ms), 1),
        "compile_ms_p90": round(sorted(compile_ms)[int(len(compile_ms) * 0.9)], 1),
        "build_ms_median": round(statistics.median(build_ms), 1),
        "rss_mib": round(rss_mib, 1),
        "rss_mib_per_pack": round(rss_mib / args.tenants, 3),
        "eval_us_one_tenant_alone": round(statistics.median(one_us), 2),
        "eval_us_one_of_many": round(statistics.median(many_us), 2),
        "eval_ratio": round(statistics.median(many_us) / statistics.median(one_us), 3),
    }
    engine.close()
    alone.close()
    return figures


def _evaluate(engine: RuleEngine, inputs: list[tuple[Event, dict[str, Any]]]) -> float:
    """CPU µs per event for tenant t0, the set looked up per event as a request does."""
    started = time.process_time()
    for event, features in inputs:
        engine.current_for("t0").evaluate(event, features)
    return (time.process_time() - started) / len(inputs) * 1e6


def key_of(index: int) -> str:
    return f"bench-tenant-key-{index:06d}"


def write_rules(root: Path, tenants: int, rules: int) -> Path:
    target = root / "rules"
    for index in range(tenants):
        base, layer = layers(index, rules)
        for name, text in {**base, **layer}.items():
            path = target / name.removeprefix("base/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return target


def bench_http(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"tenants": args.tenants, "rules_per_pack": args.rules, "workers": 2}
    with tempfile.TemporaryDirectory(prefix="yutang-tenants-") as tmp:
        alone = _serve(Path(tmp) / "one", 1, args)
        try:
            figures["cpu_us_per_request_one_tenant_alone"] = _cpu_per_request(alone, [0], args)
        finally:
            _stop(alone)
        many = _serve(Path(tmp) / "many", args.tenants, args)
        try:
            figures["startup_s"] = many["startup_s"]
            figures["cpu_us_per_request_one_of_many"] = _cpu_per_request(many, [0], args)
            figures.update(_reload_under_load(many, args))
        finally:
            _stop(many)
    figures["cpu_ratio"] = round(
        figures["cpu_us_per_request_one_of_many"] / figures["cpu_us_per_request_one_tenant_alone"], 3
    )
    return figures


def _serve(root: Path, tenants: int, args: argparse.Namespace) -> dict[str, Any]:
    rules = write_rules(root, tenants, args.rules)
    keys = ",".join(f"{key_of(i)}:t{i}:score+events+admin" for i in range(tenants))
    env = {
        **os.environ,
        "YUTANG_API_KEYS": keys,
        "YUTANG_SECRET": "bench-secret-0123456789",
        "YUTANG_LOG_LEVEL": "warning",
        "YUTANG_BACKEND": args.base_backend,
        "YUTANG_RULES_POLL_S": "0.5",
        "YUTANG_REDIS_APPENDFSYNC": "everysec",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("REDIS_URL", None)
    port = free_port()
    cmd = [sys.executable, "-m", "engine.cli", "serve", "--workers", "2", "--port", str(port),
           "--rules", str(rules), "--data-dir", str(root / "data")]  # fmt: skip
    log = open(root / "serve.log", "wb")  # noqa: SIM115
    started = time.monotonic()
    process = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    while time.monotonic() - started < args.startup_timeout:
        if process.poll() is not None:
            raise SystemExit((root / "serve.log").read_text())
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        process.kill()
        raise SystemExit(f"not ready after {args.startup_timeout} s: {(root / 'serve.log').read_text()}")
    return {
        "process": process,
        "port": port,
        "base": base,
        "log": log,
        "startup_s": round(time.monotonic() - started, 1),
    }


def _stop(server: dict[str, Any]) -> None:
    server["process"].send_signal(signal.SIGTERM)
    try:
        server["process"].wait(60)
    except subprocess.TimeoutExpired:
        server["process"].kill()
    server["log"].close()


def _cpu_per_request(server: dict[str, Any], tenants: list[int], args: argparse.Namespace) -> float:
    asyncio.run(_load(server["port"], tenants, args.connections, 2.0))  # warm-up: first requests build plans
    before = cpu_seconds(server["process"].pid)
    result = asyncio.run(_load(server["port"], tenants, args.connections, args.seconds))
    return round((cpu_seconds(server["process"].pid) - before) / max(result["served"], 1) * 1e6, 1)


async def _load(port: int, tenants: list[int], connections: int, seconds: float, stop: threading.Event | None = None,
                marks: list[tuple[float, float]] | None = None) -> dict[str, float]:  # fmt: skip
    """Keep-alive connections posting /v1/score for ``tenants`` (round robin); (finish time, latency) into ``marks``."""
    served = errors = 0
    stop_at = time.perf_counter() + seconds

    async def connection(conn: int) -> None:
        nonlocal served, errors
        key = key_of(tenants[conn % len(tenants)])
        rng = random.Random(conn)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = 0
        while time.perf_counter() < stop_at and not (stop and stop.is_set()):
            body = json.dumps(sample_event(conn, n, rng)).encode()
            n += 1
            head = (f"POST /v1/score HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
            sent = time.perf_counter()
            writer.write(head + body)
            status, _ = await _read_response(reader)
            served += 1
            errors += status != 200
            if marks is not None:
                marks.append((time.time(), time.perf_counter() - sent))
        writer.close()

    await asyncio.gather(*(connection(i) for i in range(connections)))
    return {"served": float(served), "errors": float(errors)}


def _reload_under_load(server: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Tenant t0 uploads a changed pack while t1.. score; when does every worker run it, what do the others see?"""
    others = list(range(1, args.tenants)) or [0]
    marks: list[tuple[float, float]] = []
    stop = threading.Event()
    loader = threading.Thread(
        target=lambda: asyncio.run(_load(server["port"], others, args.connections, args.seconds * 4, stop, marks))
    )
    loader.start()
    time.sleep(args.seconds)
    _, layer = layers(0, args.rules)
    changed = {name: re.sub(r"score: \d+", "score: 99", text, count=1) for name, text in layer.items()}
    reload_started = time.time()
    answer = httpx.post(f"{server['base']}/v1/rules/reload", json={"files": changed},
                        headers={"Authorization": f"Bearer {key_of(0)}"}, timeout=120)  # fmt: skip
    answered = time.time()
    if answer.status_code != 200:
        raise SystemExit(f"reload refused: {answer.text}")
    version = answer.json()["version"]
    while True:  # fresh connections reach either worker: every one of 10 in a row must see it
        seen = [httpx.get(f"{server['base']}/v1/rules", headers={"Authorization": f"Bearer {key_of(0)}"}, timeout=10)
                .json()["version"] for _ in range(10)]  # fmt: skip
        if set(seen) == {version}:
            break
        if time.time() - answered > 120:
            raise SystemExit("the reload never reached every worker")
    everywhere = time.time()
    time.sleep(1)
    stop.set()
    loader.join()

    def p99(window: list[float]) -> float:
        return round(sorted(window)[int(len(window) * 0.99)] * 1000, 1) if window else 0.0

    before = [lat for at, lat in marks if at < reload_started]
    during = [lat for at, lat in marks if reload_started <= at <= everywhere]
    return {
        "reload_answer_s": round(answered - reload_started, 2),
        "reload_every_worker_s": round(everywhere - reload_started, 2),
        "others_p99_ms_before": p99(before),
        "others_p99_ms_during_reload": p99(during),
        "others_requests_during_reload": len(during),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    engine = commands.add_parser("engine", help="one process: compile time, RSS, evaluation CPU")
    engine.add_argument("--tenants", type=int, default=1000)
    engine.add_argument("--rules", type=int, default=100)
    engine.add_argument("--backend", choices=[b.value for b in BackendKind], default="python")
    engine.add_argument("--events", type=int, default=5000)
    engine.add_argument("--rounds", type=int, default=7)
    http = commands.add_parser("http", help="2 workers: start-up, CPU per request, a reload's reach and its cost")
    http.add_argument("--tenants", type=int, default=50)
    http.add_argument("--rules", type=int, default=100)
    http.add_argument("--seconds", type=float, default=8.0)
    http.add_argument("--connections", type=int, default=16)
    http.add_argument("--base-backend", default="durable")
    http.add_argument("--startup-timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)
    figures = bench_engine(args) if args.command == "engine" else bench_http(args)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
