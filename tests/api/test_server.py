"""A real ``yutang serve`` process: two uvicorn workers, the embedded Redis started once by the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from engine.redis_embedded import free_port
from tests.api.conftest import KEYS, SECRET, auth, event

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[2, 1], ids=["2 workers", "1 worker"])
def server(tmp_path, request):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(YUTANG_API_KEYS=KEYS, YUTANG_SECRET=SECRET, YUTANG_BACKEND="python")
    cmd = [
        sys.executable,
        "-m",
        "engine.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(request.param),
        "--data-dir",
        str(tmp_path / "data"),
        "--rules",
        str(ROOT / "tests/api/packs/small"),
    ]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
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
    yield base, tmp_path / "data", process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def test_serve_with_workers_and_the_embedded_redis(server):
    base, data, process = server
    with httpx.Client(base_url=base, timeout=10) as client:
        bodies = [client.post("/v1/score", json=event("red_packet_claim"), headers=auth()).json() for _ in range(20)]
        assert sorted(b["offers"][0]["remaining"] for b in bodies) == list(range(30, 50))  # one budget for both workers
        assert client.post("/v1/score", json=event(), headers={}).status_code == 401
        metrics = client.get("/metrics").text
    assert 'yutang_http_requests_total{method="POST",route="/v1/score",status="200"} 20.0' in metrics
    assert "yutang_ruleset_info{version=" in metrics
    assert "customer=" not in metrics and "device=" not in metrics and "event_id=" not in metrics
    assert (data / "appendonlydir").exists() or (data / "redis.sock").exists()
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert not (data / "redis.sock").exists()  # the parent stopped the embedded Redis
