"""Red team, session 6: every endpoint again, as a caller who controls the bytes, and as a tenant's admin.

One real ``yutang serve`` (two workers, the shipped pack, keys of three tenants in every
role). Breaches these tests found, each fixed where it lived:

- **a key said twice.** Every JSON body was read last-key-wins (the standard library for
  FastAPI's routes, pydantic's parser for ``/v1/score``). ``{"customer": "mum1", ...,
  "customer": "farm-7"}`` is one customer to a gateway, a WAF or the storefront's own
  check that reads the first (many parsers do, and a log shows both), and another to
  the score: a parser differential a farmer uses to have one account checked and another
  scored, or a list entry reviewed for one value and written for another. A key given
  twice in any object of a JSON body is now 422 ``duplicate_key`` naming it (its dotted
  path), before any route reads the body: nothing is claimed, counted or written.

What held is kept as cheap guards: the tests named ``..._held``.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import ALPHA
from tests.api.roles import MARKETER, ROLE_KEYS
from tests.api.serving import serve_on

RULES = Path(__file__).resolve().parents[2] / "rules"
_n = itertools.count()


@pytest.fixture(scope="module", params=["embedded"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("redteam6")
    rules = root / "rules"
    shutil.copytree(RULES, rules)
    with serve_on(request, root, rules=rules, env={"YUTANG_API_KEYS": ROLE_KEYS}) as base:
        yield base


def call(base: str, method: str, path: str, key: str = ALPHA, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", **kw.pop("headers", {})}
    return httpx.request(method, f"{base}{path}", headers=headers, timeout=60, **kw)


def raw(base: str, path: str, text: str, key: str = ALPHA) -> httpx.Response:
    """POST ``text`` as sent: a JSON client would never write a key twice."""
    return call(base, "POST", path, key, content=text.encode(), headers={"Content-Type": "application/json"})


def signup_fields() -> dict[str, Any]:
    n = next(_n)
    return {"event_id": f"rt6-{n}", "type": "signup", "customer": f"rt6-c{n}", "device": f"rt6-d{n}",
            "timestamp": datetime.now(UTC).isoformat()}  # fmt: skip


def with_second(fields: dict[str, Any], key: str, value: Any) -> str:
    """``fields`` as JSON with ``key`` written a second time, with ``value``, at the end."""
    text = json.dumps(fields)
    return f"{text[:-1]}, {json.dumps(key)}: {json.dumps(value)}}}"


def refused_field(answer: httpx.Response) -> str:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "duplicate_key", error
    field: str = error["fields"][0]["field"]
    assert field in error["message"]
    return field


# --- a key said twice ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("second", ["customer", "\\u0063ustomer"])  # the same key, escaped: one name once decoded
def test_a_customer_said_twice_is_refused_and_the_event_is_not_taken(server: str, second: str) -> None:
    fields = signup_fields()
    text = json.dumps(fields)[:-1] + f', "{second}": "rt6-farm-account"}}'
    assert refused_field(raw(server, "/v1/score", text)) == "customer"
    clean = call(server, "POST", "/v1/score", json=fields)  # the id was not claimed by the refused copy
    assert clean.status_code == 200, clean.text
    assert clean.json()["event_id"] == fields["event_id"]


def test_a_key_said_twice_inside_the_attributes_is_named_by_its_path(server: str) -> None:
    fields = signup_fields()
    text = json.dumps(fields)[:-1] + ', "attributes": {"channel": "poster", "channel": "qr"}}'
    assert refused_field(raw(server, "/v1/score", text)) == "attributes.channel"


def test_an_outcome_said_twice_is_refused(server: str) -> None:
    outcome = {"event_id": f"rt6-o{next(_n)}", "type": "order_paid", "customer": "rt6-payer",
               "amount": 99, "timestamp": datetime.now(UTC).isoformat()}  # fmt: skip
    assert refused_field(raw(server, "/v1/events", with_second(outcome, "amount", 9999))) == "amount"


def test_a_list_entry_cannot_be_reviewed_for_one_value_and_written_for_another(server: str) -> None:
    entry = {"entity": "customer", "value": "rt6-honest-mum", "kind": "block", "reason": "red team"}
    assert refused_field(raw(server, "/v1/lists/entries", with_second(entry, "value", "rt6-other"))) == "value"
    listed = call(server, "GET", "/v1/lists/entries").text
    assert "rt6-honest-mum" not in listed and "rt6-other" not in listed


def test_one_name_in_two_objects_and_a_body_that_is_no_json_are_read_as_before_held(server: str) -> None:
    fields = {**signup_fields(), "attributes": {"type": "poster", "customer": "a note"}}
    assert call(server, "POST", "/v1/score", json=fields).status_code == 200
    broken = raw(server, "/v1/score", '{"type": "signup", "type": ')
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"


# --- a dry run is no list lookup ------------------------------------------------------------------------------


def dry_run(base: str, key: str, **fields: Any) -> dict[str, Any]:
    answer = call(base, "POST", "/v1/console/dry-run", key, json={**signup_fields(), **fields})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_marketer_cannot_learn_through_a_dry_run_whether_a_phone_is_on_a_list(server: str) -> None:
    phone = "+8613900071234"
    added = call(server, "POST", "/v1/lists/entries",
                 json={"entity": "phone", "value": phone, "kind": "block", "reason": "red team"})  # fmt: skip
    assert added.status_code == 201, added.text
    assert (
        call(server, "GET", "/v1/lists/entries", MARKETER, params={"entity": "phone", "value": phone}).status_code
        == 403
    )
    admin = dry_run(server, ALPHA, phone=phone)
    assert admin["features"]["phone.blocked"] is True and admin["lists_read"] is True
    marketer, stranger = dry_run(server, MARKETER, phone=phone), dry_run(server, MARKETER, phone="+8613900075678")
    assert marketer["lists_read"] is False and marketer["features"].get("phone.blocked") is None
    # the block's rules fire for the admin; for the marketer a listed phone answers as an unlisted one
    assert {r["rule"] for r in admin["reasons"]} - {r["rule"] for r in marketer["reasons"]}
    assert (marketer["decision"], marketer["score"]) == (stranger["decision"], stranger["score"])
