"""The raw handler and the FastAPI route answer the same corpus the same way: status, headers, body, logs, metrics.

Both servers (conftest.py) get the same requests in the same order, each on its own
fresh Redis, so budgets, windows and replays line up. Only what is fresh per request
is normalised: request ids the server made, hold and reservation ids and their times.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.conftest import ALPHA_EVENTS, event
from tests.api.hot.conftest import Server
from tests.api.hot.wire import Connection, chunks, head, request

COMPARED_HEADERS = ("content-type", "www-authenticate", "retry-after", "idempotent-replayed", "traceparent")
FRESH = ("hold_id", "reservation_id", "void_at", "expires_at", "request_id")
COUNTED = re.compile(r'^(yutang_(?:http_requests_total|decisions_total|rule_hits_total|offers_total|'
                     r'idempotent_replays_total|degraded_responses_total|stage_duration_seconds_count|'
                     r'http_request_duration_seconds_count)\{[^}]*\}) ([0-9.e+]+)$')  # fmt: skip
CLOCK = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")
SECONDS = re.compile(r"\b\d+ s\b")
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def corpus() -> list[bytes]:
    """Good and bad requests, in an order where later ones depend on earlier ones (replays, budgets)."""
    now = datetime.now(UTC)
    signup = event("signup", device="par-d1", phone="13812345678")
    claim = event("coupon_claim", device="par-d1", customer=signup["customer"])
    same_device = [event("signup", device="par-farm") for _ in range(4)]  # the farm rule fires from the third
    keyed = [("Idempotency-Key", "par-key-1")]
    return [
        request(signup),
        request(signup),  # replayed
        request({**signup, "device": "par-other"}),  # 409 naming device
        request(claim, path="/v1/score?explain=true"),
        *(request(e) for e in same_device),
        head(chunked=True) + chunks(json.dumps(event("red_packet_claim")).encode(), 5),
        request(event("referral", referrer=signup["customer"]), extra=keyed),
        request(event("referral", referrer=signup["customer"]), extra=keyed),  # the key reused: 409
        request(event("signup"), extra=[("Idempotency-Key", "")]),
        request(b"{"),
        request(b""),
        request(b'{"event_id": "\xff"}'),
        request(b"[" * 20_000 + b"]" * 20_000),
        request(event("signup", colour="red")),  # unknown field
        request(event("signup", customer="a b")),
        request(event("order_paid")),
        request(event("signup", timestamp=(now + timedelta(hours=1)).isoformat())),
        request(event("signup"), path="/v1/score?contact=BAD!"),
        request(event("signup"), key=None),
        request(event("signup"), key="wrong-key"),
        request(event("signup"), key=ALPHA_EVENTS),
        request(event("signup"), extra=[("X-Yutang-Tenant", "beta")]),
        request(event("signup"), content_type="text/plain"),
        request(event("signup"), extra=[("X-Request-Id", "par-mine"), ("traceparent", TRACE)]),
        head(length=1 << 20),
        request(event("group_buy_join", group="g-none")),
        request(event("order", amount=699)),
    ]


def normalised(sent: bytes, status: int, headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
    kept = {name: value for name, value in headers if name in COMPARED_HEADERS}
    request_id = next((v for k, v in headers if k == "x-request-id"), None)
    mine = b"X-Request-Id: par-mine" in sent
    assert request_id is not None and (request_id == "par-mine" if mine else re.fullmatch(r"[0-9a-f]{32}", request_id))
    try:
        document: Any = json.loads(body)
    except ValueError:
        document = body.decode("latin-1")
    return {"status": status, "headers": kept, "body": _strip(document)}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (v is not None if k in FRESH else _strip(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, str):  # the server's clock, read a moment apart by the two servers
        return CLOCK.sub("<time>", SECONDS.sub("<n> s", value))
    return value


def run(server: Server, requests: list[bytes]) -> list[dict[str, Any]]:
    answers = []
    for sent in requests:
        with Connection(server.base) as conn:
            answer = conn.exchange(sent)
        answers.append(normalised(sent, answer.status, answer.headers, answer.body))
    return answers


def counters(server: Server) -> dict[str, float]:
    text = httpx.get(f"{server.base}/metrics", timeout=10).text
    found = {}
    for line in text.splitlines():
        if (match := COUNTED.match(line)) and 'route="/metrics"' not in line:
            found[match[1]] = float(match[2])
    return found


def access(server: Server, since: int) -> list[tuple[Any, ...]]:
    lines = server.log.read_text(encoding="utf-8").splitlines()[since:]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    fields = ("method", "route", "status", "tenant", "event_type", "decision", "error", "degraded")
    return sorted(tuple(str(r.get(f)) for f in fields) for r in records if r.get("logger") == "yutang.access"
                  and r.get("route") != "/metrics")  # fmt: skip


def test_the_same_corpus_gets_the_same_answers_logs_and_metrics_on_both_paths(servers: dict[str, Server]) -> None:
    requests = corpus()
    raw, framework = servers["raw"], servers["framework"]
    before = {s.name: (counters(s), len(s.log.read_text(encoding="utf-8").splitlines())) for s in (raw, framework)}
    answers = {s.name: run(s, requests) for s in (raw, framework)}
    for i, (mine, theirs) in enumerate(zip(answers["raw"], answers["framework"], strict=True)):
        assert mine == theirs, (i, requests[i][:200])
    statuses = {a["status"] for a in answers["raw"]}
    assert {200, 400, 401, 403, 409, 413, 415, 422} <= statuses and not any(s >= 500 for s in statuses)
    time.sleep(1.0)  # the access lines of both workers reach the log file
    after = {s.name: counters(s) for s in (raw, framework)}
    deltas = {
        name: {k: v - before[name][0].get(k, 0.0) for k, v in after[name].items() if v != before[name][0].get(k, 0.0)}
        for name in after
    }
    assert deltas["raw"] == deltas["framework"] and any("/v1/score" in k for k in deltas["raw"])
    assert access(raw, before["raw"][1]) == access(framework, before["framework"][1])


def without_outage_detail(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answers with the outage's own detail cut from ``degraded_reason`` and a 503's message: each server has its
    own Redis (another port), and whether a call met a refused connection or the already-open breaker is timing."""
    cut = []
    for answer in answers:
        body = answer.get("body")
        if isinstance(body, dict) and isinstance(body.get("degraded_reason"), str):
            body = {**body, "degraded_reason": body["degraded_reason"].split(" (", 1)[0]}
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("code") == "store_unavailable":
            body = {**body, "error": {**error, "message": str(error["message"]).split(" (", 1)[0]}}
        cut.append({**answer, "body": body})
    return cut


def test_a_redis_outage_is_answered_the_same_on_both_paths(servers: dict[str, Server]) -> None:
    requests = [
        request(event("signup")),  # fail open
        request(event("red_packet_claim")),  # fail closed
        request(event("signup"), key="ytk~alpha~unknown-0123456789abcdef"),  # a made key's shape: in Redis, 503
        request(event("signup"), key="ytk~no-tenant-0123456789abcdef"),  # no made key's shape: 401 without Redis
        request(event("signup"), extra=[("Idempotency-Key", "par-outage")]),
        request(b"{"),
    ]
    for server in servers.values():
        server.redis.stop()
    try:
        answers = {name: run(server, requests) for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.redis.start()
    assert without_outage_detail(answers["raw"]) == without_outage_detail(answers["framework"])
    assert [a["status"] for a in answers["raw"]] == [200, 200, 503, 401, 200, 400]
    assert answers["raw"][0]["body"]["degraded"] is True and answers["raw"][1]["body"]["decision"] == "review"
    for server in servers.values():  # both recover by themselves
        deadline = time.monotonic() + 20
        while httpx.get(f"{server.base}/readyz", timeout=5).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        with Connection(server.base) as conn:
            assert conn.exchange(request(event("signup"))).status == 200
