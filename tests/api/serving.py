"""Start a real ``yutang serve`` process for a test and stop it cleanly afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from redis.cluster import ClusterNode, RedisCluster

from engine.datastore.embedded import free_port
from tests.api.conftest import KEYS, SECRET


@contextmanager
def yutang_serve(
    tmp_path: Path, *, rules: Path, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yield the base URL and the process once /readyz answers; SIGTERM it on the way out."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    environment.update(YUTANG_API_KEYS=KEYS, YUTANG_SECRET=SECRET, YUTANG_BACKEND="python")
    environment.update(env or {})  # a test may bring its own keys
    cmd = [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--workers", str(workers),
           "--data-dir", str(tmp_path / "data"), "--rules", str(rules)]  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=tmp_path, env=environment, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        process.wait()
        pytest.fail(log.read_text())
    try:
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


@contextmanager
def serve_on(request: pytest.FixtureRequest, root: Path, *, rules: Path, env: dict[str, str]) -> Iterator[str]:
    """A 2-worker ``yutang serve`` on its embedded Redis, or (``request.param == "cluster"``) on
    the session's 3-master cluster, which is shared: it is left as found, empty."""
    if request.param != "cluster":
        with yutang_serve(root, rules=rules, workers=2, env=env) as (base, _):
            yield base
        return
    cluster = request.getfixturevalue("redis_cluster")
    env = {**env, "REDIS_URL": cluster.url, "REDIS_CLUSTER": "1", "YUTANG_REDIS_TIMEOUT_MS": "5000"}
    client = RedisCluster(startup_nodes=[ClusterNode(n.host, n.port) for n in cluster.nodes()])
    try:
        with yutang_serve(root, rules=rules, workers=2, env=env) as (base, _):
            yield base
    finally:
        client.flushall(target_nodes=RedisCluster.PRIMARIES)
        client.close()
