"""POST /v1/score against the small pack: decisions, reasons, offers, lists, bad input."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.api.conftest import auth, event


async def score(api, body, key=None, **headers):
    r = await api.post("/v1/score", json=body, headers={**auth(*(key,) if key else ()), **headers})
    assert r.status_code == 200, r.text
    return r.json()


async def test_clean_signup_gets_the_newcomer_coupon(api):
    body = await score(api, event("signup", device="d-clean"))
    assert body["decision"] == "allow" and body["score"] == 0 and body["reasons"] == []
    assert body["tier"] == "occasional" and body["tier_label"] == "偶然型"
    assert body["degraded"] is False and len(body["ruleset_version"]) == 12
    [offer] = body["offers"]
    assert offer["offer"] == "newcomer_coupon" and offer["status"] == "granted"
    assert offer["effect"] == {"type": "coupon", "value": 20.0, "description": "新人20元券"}
    assert offer["remaining"] == 4


async def test_device_farm_is_denied_with_reason_and_values(api):
    bodies = [await score(api, event("signup", device="d-farm")) for _ in range(3)]
    assert [b["decision"] for b in bodies] == ["allow", "allow", "deny"]
    reason = bodies[2]["reasons"][0]
    assert reason == {
        "rule": "device_farm",
        "code": 1001,
        "text": "同一设备24小时内多个账号",
        "text_en": "many accounts on one device in 24h",
        "score": 80,
        "values": {"device.accounts_24h": 3},
    }
    assert bodies[2]["offers"] == []
    assert {"offer": "newcomer_coupon", "why": "risk"} in bodies[2]["withheld"]


async def test_seed_list_entries_are_live(api):
    body = await score(api, event("signup", device="seeded-farm-device"))
    assert body["decision"] == "deny"
    assert [r["rule"] for r in body["reasons"]] == ["blocked_device"]


async def test_shadow_rules_are_reported_apart(api):
    customer = "c-shadow"
    await score(api, event("coupon_claim", customer=customer))
    body = await score(api, event("coupon_claim", customer=customer))
    assert body["decision"] == "allow" and body["score"] == 0
    assert [r["rule"] for r in body["shadow"]] == ["many_claims_shadow"]
    assert body["shadow"][0]["values"] == {"customer.claims_24h": 2}


async def test_budget_exhausted_is_reported(api):
    bodies = [await score(api, event("signup")) for _ in range(6)]
    assert [len(b["offers"]) for b in bodies] == [1, 1, 1, 1, 1, 0]
    assert {"offer": "newcomer_coupon", "why": "exhausted"} in bodies[5]["withheld"]


async def test_race_for_the_last_units_grants_exactly_the_budget(make_api, redis_client):
    """200 concurrent claims for a red packet with 50 units: exactly 50 granted.

    A generous Redis timeout: this is about atomicity, not about a loaded CI machine.
    """
    async with make_api(redis_timeout_s=10) as api:
        bodies = await asyncio.gather(*(score(api, event("red_packet_claim", device=f"rp{i}")) for i in range(200)))
    granted = [b for b in bodies if b["offers"]]
    assert len(granted) == 50
    assert sorted(b["offers"][0]["remaining"] for b in granted) == list(range(50))
    refused = [b for b in bodies if not b["offers"]]
    assert all({"offer": "red_packet", "why": "exhausted"} in b["withheld"] for b in refused)
    assert not any(b["degraded"] for b in bodies)


async def test_retry_with_the_same_event_id_returns_the_first_response(api):
    body = event("signup", device="d-retry")
    r1 = await api.post("/v1/score", json=body, headers=auth())
    r2 = await api.post("/v1/score", json=body, headers=auth())
    assert r1.json() == r2.json()
    assert r2.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in r1.headers
    again = await score(api, event("signup"))  # the budget was spent once, not twice
    assert again["offers"][0]["remaining"] == 3


async def test_idempotency_key_header_returns_the_first_response_and_refuses_another_request(api):
    first = event("signup", device="d-idem")
    r1 = await api.post("/v1/score", json=first, headers={**auth(), "Idempotency-Key": "order-42-try"})
    r2 = await api.post("/v1/score", json=first, headers={**auth(), "Idempotency-Key": "order-42-try"})
    assert r2.json() == r1.json() and r2.headers["idempotent-replayed"] == "true"
    other = {**first, "event_id": first["event_id"] + "-b"}
    r3 = await api.post("/v1/score", json=other, headers={**auth(), "Idempotency-Key": "order-42-try"})
    assert r3.status_code == 409 and r3.json()["error"]["code"] == "idempotency_conflict"
    assert [f["field"] for f in r3.json()["error"]["fields"]] == ["event_id"]


async def test_concurrent_retries_do_not_double_grant(api):
    body = event("signup", device="d-burst")
    answers = await asyncio.gather(*(score(api, body) for _ in range(10)))
    assert {json.dumps(a["offers"], sort_keys=True) for a in answers} == {
        json.dumps(answers[0]["offers"], sort_keys=True)
    }
    assert (await score(api, event("signup")))["offers"][0]["remaining"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "signup", "customer": "c1"}, "event_id"),
        ({"event_id": "e1", "customer": "c1"}, "type"),
        ({"event_id": "e1", "type": "signup"}, "customer"),
        ({"event_id": "e1", "type": "sign_up", "customer": "c1"}, "type"),
        ({"event_id": "e1", "type": "signup", "customer": "c1", "ip": "999.1.1.1"}, "ip"),
        ({"event_id": "e1", "type": "signup", "customer": "wx\u200b_mum"}, "customer"),  # zero-width space
        ({"event_id": "\ufeffe1", "type": "signup", "customer": "c1"}, "event_id"),  # BOM
        ({"event_id": "e1", "type": "signup", "customer": "c1", "device": "d\u202e1"}, "device"),  # bidi override
        ({"event_id": "e1", "type": "signup", "customer": "c1", "phone": "call me"}, "phone"),
        ({"event_id": "e1", "type": "signup", "customer": "c1", "amount": -5}, "amount"),
        ({"event_id": "e1", "type": "signup", "customer": "c1", "timestamp": "yesterday"}, "timestamp"),
        ({"event_id": "e1", "type": "signup", "customer": "c1", "colour": "red"}, "colour"),
        ({"event_id": "e 1", "type": "signup", "customer": "c1"}, "event_id"),
        ({"event_id": "e1", "type": "signup", "customer": "c1", "attributes": {"x": [1, 2]}}, "attributes.x"),
        ({"event_id": "e1", "type": "order_paid", "customer": "c1"}, "type"),
        ([1, 2, 3], "body"),
    ],
)
async def test_malformed_events_get_422_naming_the_field(api, body, field):
    r = await api.post("/v1/score", json=body, headers=auth())
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert any(f["field"] == field or f["field"].startswith(field + ".") for f in error["fields"]), error
    assert field.split(".")[0] in error["message"]


async def test_invalid_json_is_400(api):
    r = await api.post(
        "/v1/score", content=b'{"event_id": "e1",', headers={**auth(), "content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


async def test_oversized_bodies_are_refused_with_413(api):
    huge = event("signup", address="x" * 100, attributes={f"k{i}": "v" * 2000 for i in range(64)})
    r = await api.post("/v1/score", json=huge, headers=auth())
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    async def chunks():
        for _ in range(100):
            yield b"x" * 1024

    r = await api.post("/v1/score", content=chunks(), headers={**auth(), "content-type": "application/json"})
    assert r.status_code == 413


async def test_unknown_route_and_method(api):
    assert (await api.get("/v1/nope", headers=auth())).status_code == 404
    r = await api.get("/v1/score", headers=auth())
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("query", "headers", "field"),
    [
        ("?contact=Group%20Chat!", {}, "contact"),
        ("?explain=perhaps", {}, "explain"),
        ("", {"Idempotency-Key": "k" * 129}, "Idempotency-Key"),
    ],
)
async def test_bad_query_parameters_and_headers_get_422_naming_them(api, query, headers, field):
    r = await api.post(f"/v1/score{query}", json=event("signup"), headers={**auth(), **headers})
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["error"]["fields"]] == [field]


async def test_openapi_documents_the_body_parameters_and_answer_of_score(api):
    operation = (await api.get("/openapi.json")).json()["paths"]["/v1/score"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Event"}
    assert {(p["name"], p["in"]) for p in operation["parameters"]} == {
        ("explain", "query"), ("contact", "query"), ("contact_record", "query"), ("Idempotency-Key", "header"),
    }  # fmt: skip
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/ScoreResponse"}


@pytest.mark.parametrize("route", ["/v1/score", "/v1/events"])
@pytest.mark.parametrize(
    "body",
    [
        '{"event_id":"e1","type":"signup","customer":"c1","attributes":' + "[" * 10_000 + "]" * 10_000 + "}",
        "[" * 10_000 + "]" * 10_000,
        '{"a":' * 5_000 + "1" + "}" * 5_000,
    ],
    ids=["deep-attribute", "deep-array", "deep-object"],
)
async def test_a_body_nested_10000_levels_deep_is_a_400_naming_the_json(api, route, body):
    r = await api.post(route, content=body, headers={**auth(), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    assert (await api.post("/v1/score", json=event("signup"), headers=auth())).status_code == 200


async def test_an_idempotency_key_binds_the_query_too_in_any_parameter_order(api):
    """The key's fingerprint is the event's plus the query (service.py derives one from the other)."""
    body = event("signup", device="d-keyed-query")
    first = await api.post(
        "/v1/score?explain=true&contact=sms", json=body, headers={**auth(), "Idempotency-Key": "kq-1"}
    )
    assert first.status_code == 200, first.text
    again = await api.post(
        "/v1/score?contact=sms&explain=true", json=body, headers={**auth(), "Idempotency-Key": "kq-1"}
    )
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    other = await api.post("/v1/score?explain=false", json=body, headers={**auth(), "Idempotency-Key": "kq-1"})
    assert other.status_code == 409, other.text
    assert [f["field"] for f in other.json()["error"]["fields"]] == ["query"]
