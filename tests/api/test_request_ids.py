"""Request ids end to end: chosen by the caller within bounds, on every answer, in every error body.

The attacker's view: a caller picks the X-Request-Id and traceparent headers. A long,
quoted or control-character id must never reach a log line or a response header
as sent; a malformed traceparent is dropped, never repaired.
"""

from __future__ import annotations

import logging
import uuid

import pytest

from tests.api.conftest import auth, event

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_a_well_formed_request_id_is_kept_and_returned(api):
    answer = await api.post("/v1/score", json=event(), headers={**auth(), "X-Request-Id": "shop-42:req_7.a-b"})
    assert answer.status_code == 200 and answer.headers["x-request-id"] == "shop-42:req_7.a-b"


@pytest.mark.parametrize(
    "sent", ["x" * 129, "a b", 'a"b', "a\tb", "-leading-dash", "", "中文", "a\\nlog-injection"], ids=repr
)
async def test_an_unsafe_request_id_is_replaced_by_a_fresh_one(api, sent):
    answer = await api.get("/healthz", headers={"X-Request-Id": sent.encode("utf-8")})
    got = answer.headers["x-request-id"]
    assert got != sent and len(got) == 32 and int(got, 16) >= 0


async def test_two_requests_without_an_id_get_different_ones(api):
    first, second = (await api.get("/healthz"), await api.get("/healthz"))
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_fresh_ids_are_uuid4_hex_and_never_repeat_across_a_batch_of_draws(api):
    """Fresh ids come 64 to a draw from the OS: every one is a version-4 UUID's hex, none repeats past a draw."""
    got = [(await api.get("/healthz")).headers["x-request-id"] for _ in range(150)]
    assert len(set(got)) == len(got)
    for text in got:
        parsed = uuid.UUID(hex=text)
        assert parsed.hex == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122, text


async def test_every_error_body_carries_the_answer_s_request_id(api):
    too_big = b'{"a": "' + b"x" * (70 * 1024) + b'"}'
    answers = {
        401: await api.post("/v1/score", json=event()),
        403: await api.post("/v1/rules/reload", headers=auth("alpha-score-key-0123456789")),
        404: await api.get("/v1/no-such-route"),
        405: await api.delete("/v1/score"),
        400: await api.post("/v1/score", content=b"{", headers={**auth(), "content-type": "application/json"}),
        413: await api.post("/v1/score", content=too_big, headers={**auth(), "content-type": "application/json"}),
        415: await api.post("/v1/score", content=b"{}", headers={**auth(), "content-type": "text/plain"}),
        422: await api.post("/v1/score", json=event(timestamp="yesterday"), headers=auth()),
    }
    for status, answer in answers.items():
        assert answer.status_code == status, (status, answer.text)
        assert answer.json()["error"]["request_id"] == answer.headers["x-request-id"], status


async def test_a_valid_traceparent_comes_back_and_a_malformed_one_is_dropped(api):
    answer = await api.get("/healthz", headers={"traceparent": TRACEPARENT})
    assert answer.headers["traceparent"] == TRACEPARENT
    for bad in (
        TRACEPARENT.upper(),
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        TRACEPARENT + "-extra",
        "x" * 4000,
    ):
        assert "traceparent" not in (await api.get("/healthz", headers={"traceparent": bad})).headers, bad


async def test_an_unhandled_error_is_a_json_500_with_its_id_and_one_traceback_in_the_log(api, caplog):
    async def broken() -> None:
        raise RuntimeError("a bug in a route")

    api.app.add_api_route("/v1/broken", broken)
    with caplog.at_level(logging.INFO):
        answer = await api.get("/v1/broken", headers={"X-Request-Id": "trace-me-1"})
    assert answer.status_code == 500 and answer.headers["x-request-id"] == "trace-me-1"
    assert answer.json()["error"] == {
        "code": "internal_error",
        "message": "an unexpected error; the server's log names this request_id",
        "request_id": "trace-me-1",
    }
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and tracebacks[0].request_id == "trace-me-1"  # type: ignore[attr-defined]
    assert "RuntimeError: a bug in a route" in caplog.text
    [line] = [r for r in caplog.records if r.name == "yutang.access"]
    assert (line.status, line.route, line.levelname) == (500, "/v1/broken", "ERROR")  # type: ignore[attr-defined]
    assert (await api.get("/healthz")).status_code == 200  # the server goes on
