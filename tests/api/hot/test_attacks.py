"""``POST /v1/score`` as an attacker sends it, over real HTTP to a 2-worker server, on both paths.

Every byte of the head and the body is the caller's: chunked bodies, no or a lying
Content-Length, repeated headers, huge headers, bytes that are not UTF-8, JSON nested
past any parser, a client that trickles or leaves. Each test runs against the raw
handler and the FastAPI route (conftest.py) and asserts what the caller sees: a clear
4xx naming the field, never a 5xx, and a connection that still serves the next request.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.conftest import ALPHA, ALPHA_EVENTS, event
from tests.api.hot.conftest import Server
from tests.api.hot.wire import Connection, chunks, exchange, head, request

LIMIT = 64 * 1024  # the default YUTANG_MAX_BODY_BYTES
FRESH_ID = re.compile(r"[0-9a-f]{32}")


def good(conn: Connection) -> None:
    """A valid score on the same connection: it must still be usable."""
    answer = conn.exchange(request(event("signup")))
    assert answer.status == 200 and answer.json()["decision"] in ("allow", "review", "deny"), answer


def access_lines(server: Server, request_id: str) -> list[dict[str, Any]]:
    found = []
    for line in server.log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        if record.get("logger") == "yutang.access" and record.get("request_id") == request_id:
            found.append(record)
    return found


def wait_for_line(server: Server, request_id: str, within_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if found := access_lines(server, request_id):
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no access line for {request_id}")


def test_a_chunked_body_is_read_whole_as_a_plain_one_would_be(server: Server) -> None:
    body = json.dumps(event("signup", device="d-chunked")).encode()
    with Connection(server.base) as conn:
        first = conn.exchange(head(chunked=True) + chunks(body, 3))
        assert first.status == 200 and first.json()["event_id"] == json.loads(body)["event_id"]
        again = conn.exchange(request(body))  # the same bytes by Content-Length: the same event, replayed
        assert again.status == 200 and again.header("idempotent-replayed") == "true"
        assert again.body == first.body


def test_a_chunked_body_past_the_limit_is_413_and_the_connection_closed(server: Server) -> None:
    with Connection(server.base) as conn:
        conn.send(head(chunked=True))
        for _ in range(LIMIT // 4096 + 2):
            conn.send(b"1000\r\n" + b"[" * 4096 + b"\r\n")
        answer = conn.answer()
        assert answer.status == 413 and answer.code == "payload_too_large" and answer.closed
        assert str(LIMIT) in answer.json()["error"]["message"]


def test_a_declared_length_past_the_limit_is_refused_before_the_body_is_sent(server: Server) -> None:
    with Connection(server.base, timeout=5) as conn:
        answer = conn.exchange(head(length=10 * 1024 * 1024))  # nothing of the 10 MB follows
        assert answer.status == 413 and answer.code == "payload_too_large"


def test_a_length_shorter_than_the_body_scores_only_what_it_covers(server: Server) -> None:
    body = json.dumps(event("signup")).encode()
    with Connection(server.base) as conn:
        answer = conn.exchange(head(length=len(body) // 2) + body)
        # half an object (ours: invalid_json), and the rest is no request (uvicorn's, which may answer first)
        assert answer.status == 400 and answer.code in ("invalid_json", None)
    with Connection(server.base) as conn:
        good(conn)


def test_a_client_that_leaves_mid_body_gets_a_499_line_and_no_traceback(server: Server) -> None:
    request_id = f"leaves-{server.name}-{time.time_ns()}"
    with Connection(server.base) as conn:
        conn.send(head(length=1000, extra=[("X-Request-Id", request_id)]) + b'{"event_id": "half')
        time.sleep(0.3)
    line = wait_for_line(server, request_id)
    assert line["status"] == 499 and line["route"] == "/v1/score"
    assert "unhandled error" not in server.log.read_text(encoding="utf-8")
    with Connection(server.base) as conn:
        good(conn)


def test_the_first_of_a_repeated_header_counts_as_starlette_reads_it(server: Server) -> None:
    bad, ok = ("Authorization", "Bearer not-a-key"), ("Authorization", f"Bearer {ALPHA}")
    with Connection(server.base) as conn:
        refused = conn.exchange(request(event("signup"), key=None, extra=[bad, ok]))
        assert refused.status == 401 and refused.header("www-authenticate") == "Bearer"
        assert conn.exchange(request(event("signup"), key=None, extra=[ok, bad])).status == 200
        other = conn.exchange(
            request(event("signup"), extra=[("X-Yutang-Tenant", "beta"), ("X-Yutang-Tenant", "alpha")])
        )
        assert other.status == 403 and "beta" in other.json()["error"]["message"]
        own = conn.exchange(request(event("signup"), extra=[("X-Yutang-Tenant", "alpha"), ("X-Yutang-Tenant", "beta")]))
        assert own.status == 200
        good(conn)


def test_a_json_body_under_a_second_content_type_is_refused(server: Server) -> None:
    """A proxy may read the first Content-Type and the service the last: any one that is not JSON is a 415."""
    with Connection(server.base) as conn:
        for extra in ("text/plain", "application/x-www-form-urlencoded"):
            answer = conn.exchange(request(event("signup"), extra=[("Content-Type", extra)]))
            assert answer.status == 415 and answer.code == "unsupported_media_type", answer
            assert extra in answer.json()["error"]["message"]
        good(conn)


def test_huge_headers_are_answered_and_a_huge_request_id_replaced(server: Server) -> None:
    with Connection(server.base) as conn:
        padded = conn.exchange(request(event("signup"), extra=[("X-Padding", "a" * 60_000)]))
        assert padded.status == 200
        answer = conn.exchange(request(event("signup"), extra=[("X-Request-Id", "r" * 60_000)]))
        assert answer.status == 200 and FRESH_ID.fullmatch(answer.header("x-request-id") or "")
        many = conn.exchange(request(event("signup"), extra=[(f"X-H{i}", "v") for i in range(2000)]))
        assert many.status == 200
        good(conn)


def test_bytes_that_are_not_utf8_are_a_4xx_or_read_as_latin1(server: Server) -> None:
    with Connection(server.base) as conn:
        body = conn.exchange(request(b'{"event_id": "\xff\xfe", "type": "signup", "customer": "c"}'))
        assert body.status == 400 and body.code == "invalid_json"
        key = conn.exchange(request(event("signup"), key=None, extra=[("Authorization", b"Bearer \xff\xfe")]))
        assert key.status == 401 and key.code == "unauthorized"
        tenant = conn.exchange(request(event("signup"), extra=[("X-Yutang-Tenant", b"\xe9t\xe9")]))
        assert tenant.status == 403 and tenant.code == "forbidden"
        sent = event("signup")
        keyed = [("Idempotency-Key", b"k\xff" + str(time.time_ns()).encode())]
        first = conn.exchange(request(sent, extra=keyed))
        again = conn.exchange(request(sent, extra=keyed))
        assert first.status == again.status == 200 and again.header("idempotent-replayed") == "true"
        good(conn)


def test_json_nested_past_any_parser_is_a_400_not_a_crash(server: Server) -> None:
    with Connection(server.base) as conn:
        deep = json.dumps(event("signup"))[:-1].encode() + b', "attributes": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
        assert len(deep) < LIMIT
        assert conn.exchange(request(deep)).code == "invalid_json"
        whole = conn.exchange(request(b"[" * 30_000 + b"]" * 30_000))
        assert whole.status == 400 and whole.code == "invalid_json"
        scalars = conn.exchange(request(event("signup", attributes={"a": {"b": 1}})))
        assert scalars.status == 422 and all(
            f["field"].startswith("attributes.a") for f in scalars.json()["error"]["fields"]
        )
        good(conn)


def test_a_trickled_body_is_scored_and_slow_clients_hold_nobody_up(server: Server) -> None:
    stuck = [Connection(server.base) for _ in range(20)]
    try:
        for conn in stuck:  # each sends its head and half a body, then nothing
            conn.send(head(length=400) + b'{"event_id": "slow-')
        started = time.monotonic()
        with Connection(server.base) as conn:
            good(conn)
        assert time.monotonic() - started < 5
        with Connection(server.base) as conn:
            conn.trickle(request(event("signup")), pieces=8, pause_s=0.1)
            answer = conn.answer()
            assert answer.status == 200 and answer.json()["decision"] in ("allow", "review", "deny")
    finally:
        for conn in stuck:
            conn.sock.close()


def test_keys_roles_and_tenants_are_checked_before_the_body(server: Server) -> None:
    with Connection(server.base) as conn:
        missing = conn.exchange(request(b"not json", key=None))  # 401, not 400: the key is read first
        assert missing.status == 401 and missing.header("www-authenticate") == "Bearer"
        assert "missing" in missing.json()["error"]["message"]
        basic = conn.exchange(request(event("signup"), key=None, extra=[("Authorization", "Basic YTpi")]))
        assert basic.status == 401 and "malformed" in basic.json()["error"]["message"]
        unknown = conn.exchange(request(event("signup"), key="ytk~not-a-real-key-0123456789"))
        assert unknown.status == 401 and "invalid" in unknown.json()["error"]["message"]
        role = conn.exchange(request(b"not json", key=ALPHA_EVENTS))
        assert role.status == 403 and role.json()["error"]["wanted"] == ["score"]
        tenant = conn.exchange(request(event("signup"), extra=[("X-Yutang-Tenant", "beta")]))
        assert tenant.status == 403 and tenant.json()["error"]["tenant"] == "alpha"
        good(conn)


def test_retries_replay_and_reused_ids_are_409_naming_what_changed(server: Server) -> None:
    sent = event("signup", device="d-retry")
    with Connection(server.base) as conn:
        first = conn.exchange(request(sent))
        again = conn.exchange(request(sent))
        assert again.header("idempotent-replayed") == "true" and again.body == first.body
        changed = conn.exchange(request({**sent, "device": "d-other"}))
        assert changed.status == 409 and changed.code == "idempotency_conflict"
        assert [f["field"] for f in changed.json()["error"]["fields"]] == ["device"]
        key = [("Idempotency-Key", f"order-{time.time_ns()}")]
        assert conn.exchange(request(event("signup"), extra=key)).status == 200
        reused = conn.exchange(request(event("signup"), extra=key))
        assert reused.status == 409 and reused.code == "idempotency_conflict"
        long = conn.exchange(request(event("signup"), extra=[("Idempotency-Key", "k" * 129)]))
        assert long.status == 422 and [f["field"] for f in long.json()["error"]["fields"]] == ["Idempotency-Key"]
        good(conn)


def test_times_and_types_a_caller_cannot_use_are_422_naming_the_field(server: Server) -> None:
    with Connection(server.base) as conn:
        late = conn.exchange(request(event("signup", timestamp=(datetime.now(UTC) - timedelta(hours=2)).isoformat())))
        assert late.status == 422 and late.code == "timestamp_out_of_range"
        ancient = conn.exchange(request(event("signup", timestamp="1900-01-01T00:00:00Z")))
        assert ancient.status == 422 and [f["field"] for f in ancient.json()["error"]["fields"]] == ["timestamp"]
        outcome = conn.exchange(request(event("order_paid")))
        assert outcome.status == 422 and "/v1/events" in outcome.json()["error"]["message"]
        query = conn.exchange(request(event("signup"), path="/v1/score?contact=NOT%20A%20CHANNEL"))
        assert query.status == 422 and [f["field"] for f in query.json()["error"]["fields"]] == ["contact"]
        good(conn)


def test_request_ids_and_traces_come_back_on_every_answer(server: Server) -> None:
    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with Connection(server.base) as conn:
        mine = conn.exchange(request(event("signup"), extra=[("X-Request-Id", "shop-1.a"), ("traceparent", trace)]))
        assert mine.header("x-request-id") == "shop-1.a" and mine.header("traceparent") == trace
        refused = conn.exchange(request(b"{", extra=[("X-Request-Id", "shop-2")]))
        assert refused.header("x-request-id") == "shop-2" and refused.json()["error"]["request_id"] == "shop-2"
        unsafe = conn.exchange(request(event("signup"), extra=[("X-Request-Id", 'a b"c')]))
        assert FRESH_ID.fullmatch(unsafe.header("x-request-id") or "")


def test_other_methods_and_paths_stay_with_the_framework(server: Server) -> None:
    assert exchange(server.base, b"GET /v1/score HTTP/1.1\r\nHost: x\r\n\r\n").status == 405
    slash = exchange(server.base, request(event("signup"), path="/v1/score/"))
    assert slash.status == 307 and (slash.header("location") or "").endswith("/v1/score")
