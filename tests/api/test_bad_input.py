"""No input gets a 5xx: what a fuzzer found, sent the way an attacker would, to a real ``yutang serve``.

Every bad request goes down one keep-alive HTTP/1.1 connection and is followed by a
good one on the same socket: a 500 used to drop the connection, failing the caller's
next request too. The shipped pack, the embedded Redis, one worker.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import ALPHA, event
from tests.api.serving import yutang_serve

ROOT = Path(__file__).resolve().parents[2]
LONG_ID = "c" * 128  # the longest customer id /v1/score accepts


class KeepAlive:
    """One HTTP/1.1 connection; ``send`` fails the test if the server closed or announced closing it."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        self.conn.connect()
        self.sock = self.conn.sock

    def send(
        self, method: str, path: str, body: Any = None, *, content_type: str | None = "application/json"
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {ALPHA}"}
        data = body if body is None or isinstance(body, bytes | str) else json.dumps(body)
        if data is not None and content_type:
            headers["Content-Type"] = content_type
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        assert response.getheader("connection", "").lower() != "close", (method, path, response.status)
        assert self.conn.sock is self.sock, "the server closed the connection"
        return response.status, json.loads(payload) if payload else None

    def good(self) -> None:
        """A valid score on the same connection: it must still be usable."""
        status, body = self.send("POST", "/v1/score", event("signup", device="d-keepalive"))
        assert status == 200 and body["decision"] in ("allow", "review", "deny")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with yutang_serve(tmp_path_factory.mktemp("bad-input"), rules=ROOT / "rules") as (url, _):
        yield url


@pytest.fixture
def client(base: str) -> Iterator[KeepAlive]:
    connection = KeepAlive(base)
    yield connection
    connection.conn.close()


def fields(body: dict[str, Any]) -> list[str]:
    return [f["field"] for f in body["error"].get("fields", [])]


@pytest.mark.parametrize("entity, value", [("ip", "0"), ("subnet", "0"), ("ip", "300.1.2.3"), ("phone", "phone")])
def test_a_list_entry_that_is_not_of_its_entity_is_a_422_naming_value(
    client: KeepAlive, entity: str, value: str
) -> None:
    entry = {"entity": entity, "value": value, "kind": "block", "reason": "fuzzed"}
    status, body = client.send("POST", "/v1/lists/entries", entry)
    assert status == 422 and fields(body) == ["value"], body
    client.good()
    for method, path in (("GET", f"/v1/lists/entries/{entity}/{value}"),
                         ("DELETE", f"/v1/lists/entries/{entity}/{value}?kind=block")):  # fmt: skip
        status, body = client.send(method, path)
        assert status == 422 and fields(body) == ["value"] and value in body["error"]["message"], body
        client.good()


def test_a_customer_with_the_longest_id_scoring_accepts_can_be_viewed(client: KeepAlive) -> None:
    status, scored = client.send("POST", "/v1/score", event("signup", customer=LONG_ID))
    assert status == 200
    status, view = client.send("GET", f"/v1/customers/{LONG_ID}")
    assert status == 200 and view["customer"] == LONG_ID
    assert [d["event_id"] for d in view["recent_decisions"]] == [scored["event_id"]]
    status, body = client.send("GET", f"/v1/customers/{LONG_ID}c")  # 129: refused, not crashed
    assert status == 422 and fields(body) == ["customer"]
    client.good()


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00", "1999-12-31T23:59Z"]
)
@pytest.mark.parametrize("route, type_", [("/v1/score", "signup"), ("/v1/events", "order_paid")])
def test_a_timestamp_no_clock_can_use_is_a_422_naming_timestamp(
    client: KeepAlive, moment: str, route: str, type_: str
) -> None:
    status, body = client.send("POST", route, event(type_, timestamp=moment))
    assert status == 422 and "timestamp" in body["error"]["message"], body
    client.good()


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z"])
def test_other_times_a_caller_sends_are_bounded_too(client: KeepAlive, moment: str) -> None:
    entry = {"entity": "device", "value": "d1", "kind": "watch", "reason": "x", "expires_at": moment}
    status, body = client.send("POST", "/v1/lists/entries", entry)
    assert status == 422 and fields(body) == ["expires_at"], body
    contact = {"customer": "c1", "channel": "group_message", "at": moment}
    status, body = client.send("POST", "/v1/contacts", contact)
    assert status == 422 and fields(body) == ["at"], body
    status, body = client.send("GET", "/v1/groups/g1?at=" + moment.replace("+", "%2B"))
    assert status == 422 and fields(body) == ["at"], body
    client.good()


def test_a_body_that_is_not_json_is_a_documented_400(client: KeepAlive, base: str) -> None:
    status, body = client.send("POST", "/v1/score", b"\x00")
    assert status == 400 and body["error"]["code"] == "invalid_json"
    client.good()
    status, document = client.send("GET", "/openapi.json")
    assert "400" in document["paths"]["/v1/score"]["post"]["responses"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_sent_as_another_type_gets_415_on_every_json_route(client: KeepAlive, content_type: str | None) -> None:
    status, document = client.send("GET", "/openapi.json")
    routes = [(method.upper(), path) for path, operations in document["paths"].items()
              for method, operation in operations.items()
              if "application/json" in operation.get("requestBody", {}).get("content", {})]  # fmt: skip
    assert ("POST", "/v1/score") in routes and ("POST", "/v1/events") in routes and len(routes) >= 10
    for method, path in routes:
        path = path.replace("{group_id}", "trial_groupbuy.0123456789ab")
        status, body = client.send(method, path, json.dumps(event("signup")), content_type=content_type)
        assert status == 415, (path, status, body)
        assert body["error"]["code"] == "unsupported_media_type"
        assert (
            "application/json" in body["error"]["message"]
            and str(content_type or "no Content-Type") in (body["error"]["message"])
        )
        assert (
            "415"
            in document["paths"][path.replace("trial_groupbuy.0123456789ab", "{group_id}")][method.lower()]["responses"]
        )
    client.good()
    status, _ = client.send("POST", "/v1/score", event("signup"), content_type="application/json; charset=utf-8")
    assert status == 200
    status, _ = client.send("POST", "/v1/rules/reload", None, content_type=None)  # no body, no type: allowed
    assert status == 200


def test_a_reused_event_id_with_another_body_is_a_documented_409(client: KeepAlive) -> None:
    first = event("order_paid")
    assert client.send("POST", "/v1/events", first)[0] == 200
    status, body = client.send("POST", "/v1/events", {**first, "customer": "someone-else"})
    assert status == 409 and body["error"]["code"] == "idempotency_conflict" and fields(body) == ["customer"]
    client.good()
    status, document = client.send("GET", "/openapi.json")
    for path in ("/v1/score", "/v1/events", "/v1/groupbuys", "/v1/groupbuys/{group_id}/join"):
        assert "409" in document["paths"][path]["post"]["responses"], path
