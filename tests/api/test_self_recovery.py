"""``yutang serve`` brings its embedded Redis back by itself, through real processes and real HTTP.

The redis-server is SIGKILLed the way the kernel's OOM killer or a crash would (the pid
comes from ``redis.pid`` in the data dir and is checked against the process table);
nobody touches the service afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import KEYS, SECRET, auth, event
from tests.api.serving import yutang_serve

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "tests/api/packs/small"


def answered(client: httpx.Client, path: str, *, within_s: float = 5.0) -> dict[str, Any]:
    """The first 200 of ``path`` within ``within_s``: after a recovery each worker's circuit breaker stays
    open for ``breaker_s`` after its last failure (api/redis_guard.py), so a first read may be 503."""
    deadline = time.monotonic() + within_s
    while True:
        response = client.get(path, headers=auth())
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return dict(response.json())
        time.sleep(0.2)


def redis_servers_of(data: Path) -> list[int]:
    """Pids of the live redis-server processes whose socket is in ``data`` (the process table)."""
    socket = str(data / "redis.sock")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "redis-server" in cmdline and socket in cmdline and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


def sigkill_redis(data: Path) -> int:
    """SIGKILL the one redis-server serving ``data``; its pid."""
    [pid] = redis_servers_of(data)
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_ready(client: httpx.Client, within: float) -> tuple[float, dict[str, object]]:
    """Seconds until /readyz answers 200 and says the supervised Redis runs, and its body.

    (Redis answers the workers a few milliseconds before the supervisor has written its state.)
    """
    began = time.monotonic()
    while time.monotonic() - began < within:
        answer = client.get("/readyz")
        if answer.status_code == 200 and answer.json()["embedded_redis"]["state"] == "running":
            return time.monotonic() - began, answer.json()
        time.sleep(0.1)
    pytest.fail(f"/readyz still {answer.status_code} after {within}s: {answer.text}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("workers", [2, 1], ids=["2 workers", "1 worker"])
def test_a_sigkilled_redis_is_back_with_its_data_and_readyz_recovers_alone(tmp_path: Path, workers: int) -> None:
    data = tmp_path / "data"
    with (
        yutang_serve(tmp_path, rules=PACK, workers=workers) as (base, process),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        first = client.post("/v1/score", json=event("signup", customer="mum-li"), headers=auth()).json()
        assert first["degraded"] is False and first["offers"][0]["remaining"] == 4
        assert int((data / "redis.pid").read_text()) == redis_servers_of(data)[0]  # where an operator looks
        killed = sigkill_redis(data)  # at once: no time for an everysec fsync to catch up

        took, ready = wait_ready(client, within=10)
        assert took < 5
        assert ready["embedded_redis"] == {"state": "running", "restarts": 1, "last_exit": "killed by SIGKILL"}
        [restarted] = redis_servers_of(data)  # one supervisor acted, however many workers
        assert restarted != killed and int((data / "redis.pid").read_text()) == restarted

        view = answered(client, "/v1/customers/mum-li")
        assert [d["event_id"] for d in view["recent_decisions"]] == [first["event_id"]]
        assert [o["offer"] for o in view["offers"]] == ["newcomer_coupon"]
        after = client.post("/v1/score", json=event("signup"), headers=auth()).json()
        assert after["degraded"] is False and after["offers"][0]["remaining"] == 3  # the budget's use survived
        metrics = client.get("/metrics").text
        assert 'yutang_embedded_redis_restarts_total{outcome="ok"} 1.0' in metrics
        assert "yutang_embedded_redis_up 1.0" in metrics

        process.send_signal(signal.SIGTERM)  # a clean stop is for good: nothing restarts Redis
        assert process.wait(30) == 0
    time.sleep(0.5)
    assert redis_servers_of(data) == [] and not (data / "redis.pid").exists()
    lines = [json.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines() if line.startswith("{")]
    said = {(r["level"], r["message"].split(";")[0]) for r in lines if r["logger"] == "yutang.redis"}
    assert ("ERROR", f"embedded Redis (pid {killed}) died: killed by SIGKILL") in said
    assert any(m.startswith(f"embedded Redis restarted at unix://{data}/redis.sock (pid {restarted}") for _, m in said)
    assert sum("died:" in r["message"] for r in lines) == 1  # logged once, by the supervisor, not per worker


def test_a_redis_that_keeps_dying_is_retried_with_backoff_not_a_spinning_core(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"YUTANG_REDIS_RESTART_MAX_S": "1.6"}
    with (
        yutang_serve(tmp_path, rules=PACK, env=env) as (base, process),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        first = client.post("/v1/score", json=event("signup", customer="mum-zhao"), headers=auth()).json()
        aof = data / "appendonly.aof"
        good = aof.read_bytes()
        cpu_before = cpu_seconds(process.pid)
        sigkill_redis(data)
        with aof.open("ab") as file:
            file.write(b"garbage\r\n")  # every start now fails: "Bad file format reading the append only file"
        time.sleep(6)
        readyz = client.get("/readyz")
        assert readyz.status_code == 503
        state = readyz.json()["embedded_redis"]
        assert state["state"] == "restarting" and "Bad file format" in state["last_exit"]
        metrics = client.get("/metrics").text
        assert "yutang_embedded_redis_up 0.0" in metrics
        # delays 0.2, 0.4, 0.8, 1.6, 1.6...: at most 6 attempts in 6 s
        failed = float(metrics.split('yutang_embedded_redis_restarts_total{outcome="failed"} ')[1].split()[0])
        assert 3 <= failed <= 6
        assert cpu_seconds(process.pid) - cpu_before < 1.5  # the serve process (its worker included) idles

        aof.write_bytes(good)  # someone repairs the file; nobody restarts anything
        took, _ = wait_ready(client, within=10)
        assert took < 5
        view = answered(client, "/v1/customers/mum-zhao")  # a worker's breaker may still be open for breaker_s
        assert [d["event_id"] for d in view["recent_decisions"]] == [first["event_id"]], view
    assert redis_servers_of(data) == []


def test_a_second_serve_on_the_same_data_dir_is_refused_and_the_first_keeps_serving(tmp_path: Path) -> None:
    with (
        yutang_serve(tmp_path, rules=PACK) as (base, _),
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        second = subprocess.run(
            [sys.executable, "-m", "engine.cli", "serve", "--port", "1", "--data-dir", str(tmp_path / "data"),
             "--rules", str(PACK)],
            cwd=ROOT, env={**os.environ, "YUTANG_API_KEYS": KEYS, "YUTANG_SECRET": SECRET}, capture_output=True,
            text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1
        [pid] = redis_servers_of(tmp_path / "data")
        assert f"is in use by redis-server pid {pid}" in second.stderr and "Traceback" not in second.stderr
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/score", json=event("signup"), headers=auth()).json()["degraded"] is False
