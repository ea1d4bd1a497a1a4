"""What a real ``yutang serve`` writes to its log: one JSON line per request, state changes once, no PII.

A 2-worker server on its embedded Redis (tests/api/serving.py), its stderr in a file;
every line must parse as JSON (stderr is not a terminal, so JSON is the default).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import ALPHA, auth, event
from tests.api.serving import yutang_serve
from tests.api.test_rules import pack_files
from tests.api.test_self_recovery import PACK, redis_servers_of

PHONE, EMAIL, IP, ADDRESS = "13800138000", "Mom.Li@Example.com", "203.0.113.77", "上海市徐汇区漕溪北路88号"
REQUEST_ID = "storefront-7f3a.1"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def lines(log: Path) -> list[dict[str, Any]]:
    """Every whole line of the server's log, parsed (a line that is not JSON fails the test).

    A worker may be writing its next line as the file is read: a last line without its newline
    is not written yet, not a broken line.
    """
    text = log.read_text(encoding="utf-8")
    whole = text if text.endswith("\n") else text.rpartition("\n")[0]
    return [json.loads(line) for line in whole.splitlines() if line.strip()]


def access(log: Path, route: str, status: int | None = None) -> list[dict[str, Any]]:
    found = [r for r in lines(log) if r["logger"] == "yutang.access" and r["route"] == route]
    return [r for r in found if status is None or r["status"] == status]


def wait_for(check: Any, within: float = 120.0) -> Any:
    """Poll ``check`` until it finds something; the deadline is generous (a loaded box flushes logs late)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError("not logged in time")


def test_a_real_server_logs_requests_errors_reloads_and_an_outage_once_each(tmp_path):
    log = tmp_path / "serve.log"
    with yutang_serve(tmp_path, rules=PACK, workers=2) as (base, _), httpx.Client(base_url=base, timeout=10) as client:
        private = {"phone": PHONE, "email": EMAIL, "ip": IP, "address": ADDRESS, "device": "tablet-1"}
        headers = {**auth(), "X-Request-Id": REQUEST_ID, "traceparent": TRACEPARENT, "X-Forwarded-For": IP}
        scored = client.post("/v1/score", json=event("signup", **private), headers=headers)
        assert scored.status_code == 200 and scored.headers["x-request-id"] == REQUEST_ID
        assert scored.headers["traceparent"] == TRACEPARENT
        [line] = wait_for(lambda: access(log, "/v1/score", 200))
        assert line["request_id"] == REQUEST_ID and line["trace_id"] == TRACEPARENT[3:35]
        assert (line["method"], line["tenant"], line["event_type"]) == ("POST", "alpha", "signup")
        assert line["decision"] == scored.json()["decision"] and line["level"] == "INFO" and line["duration_ms"] > 0
        assert line["time"].startswith(time.strftime("%Y-%m-%d", time.gmtime()))

        bad = client.post("/v1/score", json=event("signup", timestamp="yesterday", **private), headers=auth())
        assert bad.status_code == 422 and bad.json()["error"]["request_id"] == bad.headers["x-request-id"]
        [line] = wait_for(lambda: access(log, "/v1/score", 422))
        assert line["error"] == "invalid_request" and line["request_id"] == bad.headers["x-request-id"]

        assert client.post("/v1/rules/reload", json={"files": pack_files(10)}, headers=auth()).status_code == 200
        wait_for(lambda: [r for r in lines(log) if r["logger"] == "yutang.rules" and "running" in r["message"]])
        broken = {k: v.replace("device.accounts_24h >= 3", "device.acounts_24h >= 3") for k, v in pack_files().items()}
        assert client.post("/v1/rules/reload", json={"files": broken}, headers=auth()).status_code == 422
        [refused] = wait_for(lambda: [r for r in lines(log) if "refused" in r["message"]])
        assert refused["level"] == "ERROR" and any(" UNKNOWN_NAME " in d for d in refused["diagnostics"])
        assert any("pack.yaml:38:11 UNKNOWN_NAME" in d for d in refused["diagnostics"])  # file:line:col CODE

        [redis_pid] = redis_servers_of(tmp_path / "data")
        os.kill(redis_pid, signal.SIGSTOP)  # paused, as in the issue: connections hang, nothing exits
        try:
            for _ in range(3):
                degraded = client.post("/v1/score", json=event("signup", **private), headers=auth())
                assert degraded.status_code == 200 and degraded.json().get("degraded") is True
            unavailable = client.get("/v1/customers/c1", headers=auth())
            assert unavailable.status_code == 503
            assert unavailable.json()["error"]["request_id"] == unavailable.headers["x-request-id"]
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        [handled] = wait_for(lambda: access(log, "/v1/customers/{customer}", 503))
        assert handled["level"] == "WARNING" and handled["error"] == "store_unavailable"
        assert any(r.get("degraded") is True for r in access(log, "/v1/score", 200))

        def back_everywhere() -> bool:
            httpx.post(f"{base}/v1/score", json=event("signup"), headers=auth(), timeout=10)  # a fresh connection
            lost = {r["pid"] for r in lines(log) if r["message"].startswith("Redis lost")}
            back = {r["pid"] for r in lines(log) if r["message"].startswith("Redis back")}
            return bool(lost) and lost <= back

        wait_for(back_everywhere)
        os.kill(redis_pid, signal.SIGKILL)  # the supervisor's restart is a state change too
        wait_for(lambda: [r for r in lines(log) if r["message"].startswith("embedded Redis restarted")])

    records = lines(log)
    for phrase in ("Redis lost", "Redis back"):  # once per worker per outage, never once per request
        pids = [r["pid"] for r in records if r["message"].startswith(phrase)]
        assert len(pids) == len(set(pids)), phrase
    died = [r for r in records if r["message"].startswith("embedded Redis (pid")]
    assert len(died) == 1 and died[0]["level"] == "ERROR"
    assert not [r for r in records if "exc_info" in r], "a handled error logged a traceback"
    text = log.read_text(encoding="utf-8")
    for secret in (PHONE, "+86" + PHONE, EMAIL, EMAIL.lower(), IP, ADDRESS, ALPHA):
        assert secret not in text, f"{secret!r} is in the log"
