"""A real ``yutang serve`` process: two uvicorn workers, the embedded Redis started once by the parent."""

from __future__ import annotations

import platform
import signal
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import auth, event
from tests.api.serving import yutang_serve

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[2, 1], ids=["2 workers", "1 worker"])
def server(tmp_path, request):
    with yutang_serve(tmp_path, rules=ROOT / "tests/api/packs/small", workers=request.param) as (base, process):
        yield base, tmp_path / "data", process


def test_serve_with_workers_and_the_embedded_redis(server):
    base, data, process = server
    with httpx.Client(base_url=base, timeout=10) as client:
        bodies = [client.post("/v1/score", json=event("red_packet_claim"), headers=auth()).json() for _ in range(20)]
        assert sorted(b["offers"][0]["remaining"] for b in bodies) == list(range(30, 50))  # one budget for both workers
        assert client.post("/v1/score", json=event(), headers={}).status_code == 401
        metrics = client.get("/metrics").text
    assert 'yutang_http_requests_total{method="POST",route="/v1/score",status="200"} 20.0' in metrics
    assert 'yutang_ruleset_info{tenant="*",version=' in metrics  # the base pack's set
    assert "customer=" not in metrics and "device=" not in metrics and "event_id=" not in metrics
    assert f'yutang_build_info{{python="{platform.python_version()}",version="{version("yutang")}"}} 1.0' in metrics
    memory = {s.name: s.value for f in text_string_to_metric_families(metrics) for s in f.samples}
    assert 20e6 < memory["process_resident_memory_bytes"] < 2e9 and memory["process_cpu_seconds_total"] > 0
    if process.args[process.args.index("--workers") + 1] == "2":  # summed over both workers, not one of them
        assert memory["yutang_workers"] == 2
        assert memory["process_resident_memory_bytes"] > memory["yutang_worker_resident_memory_max_bytes"] > 20e6
    assert (data / "appendonlydir").exists() or (data / "redis.sock").exists()
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert not (data / "redis.sock").exists()  # the parent stopped the embedded Redis
