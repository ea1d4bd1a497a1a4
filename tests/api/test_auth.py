"""API keys: 401 without or with a bad key, 403 without the scope, probes without a key."""

from __future__ import annotations

import pytest

from tests.api.conftest import ALPHA_EVENTS, ALPHA_SCORE, auth, event


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing API key"),
        ({"Authorization": "Bearer not-a-configured-key-123"}, "invalid API key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "malformed Authorization header"),
        ({"Authorization": "Bearer "}, "malformed Authorization header"),
    ],
)
async def test_401_names_the_problem(api, headers, message):
    r = await api.post("/v1/score", json=event(), headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"]["code"] == "unauthorized"
    assert message in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("key", "method", "path", "body"),
    [
        (ALPHA_SCORE, "POST", "/v1/events", event("order_paid", amount=99)),
        (ALPHA_EVENTS, "POST", "/v1/score", event()),
        (ALPHA_SCORE, "POST", "/v1/rules/reload", None),
        (ALPHA_SCORE, "POST", "/v1/lists/entries", {"entity": "device", "value": "d", "kind": "block", "reason": "r"}),
        (ALPHA_EVENTS, "POST", "/v1/rules/validate", {"files": {"a.yaml": "pack: {}"}}),
    ],
)
async def test_403_names_the_missing_scope(api, key, method, path, body):
    r = await api.request(method, path, json=body, headers=auth(key))
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["code"] == "forbidden"
    assert "tenant alpha" in error["message"] and "lacks the" in error["message"]


async def test_auth_checked_before_the_body(api):
    r = await api.post("/v1/score", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


async def test_probes_and_docs_need_no_key(api):
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert (await api.get("/metrics")).status_code == 200
    schema = (await api.get("/openapi.json")).json()
    assert {"/v1/score", "/v1/events", "/v1/contacts", "/v1/rules/reload", "/v1/customers/{customer}"} <= set(
        schema["paths"]
    )
    assert (await api.get("/docs")).status_code == 200
