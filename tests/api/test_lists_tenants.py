"""List entry endpoints, and tenant isolation: one tenant never sees another's data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import ALPHA, BETA, auth, event


async def test_add_query_page_remove_entries(api):
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    body = {
        "entity": "phone",
        "value": "13812345678",
        "kind": "block",
        "reason": "virtual number farm",
        "author": "reviewer-liu",
        "expires_at": expires,
    }
    r = await api.post("/v1/lists/entries", json=body, headers=auth())
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["hint"] == "138****5678" and entry["author"] == "reviewer-liu" and entry["expires_at"]
    assert "13812345678" not in r.text  # personal data only as a keyed hash and a masked hint
    got = (await api.get("/v1/lists/entries/phone/13812345678", headers=auth())).json()
    assert [(e["kind"], e["reason"]) for e in got] == [("block", "virtual number farm")]
    scored = (await api.post("/v1/score", json=event("signup", phone="13812345678"), headers=auth())).json()
    assert scored["decision"] == "allow"  # the small pack has no phone.blocked rule: listed, not scored
    subnet = {"entity": "subnet", "value": "203.0.113.0/24", "kind": "watch", "reason": "IDC range"}
    assert (await api.post("/v1/lists/entries", json=subnet, headers=auth())).status_code == 201
    page = (await api.get("/v1/lists/entries", params={"kind": "watch"}, headers=auth())).json()
    assert [e["entity"] for e in page["entries"]] == ["subnet"]
    everything = (await api.get("/v1/lists/entries", headers=auth())).json()["entries"]
    assert {e["entity"] for e in everything} >= {"phone", "subnet", "device"}  # device: the seed entry
    r = await api.delete("/v1/lists/entries/subnet/203.0.113.0/24", params={"kind": "watch"}, headers=auth())
    assert r.json() == {"removed": True}
    r = await api.delete("/v1/lists/entries/subnet/203.0.113.0/24", params={"kind": "watch"}, headers=auth())
    assert r.status_code == 404


async def test_a_blocked_device_added_through_the_api_denies(api):
    body = {"entity": "device", "value": "emu-77", "kind": "block", "reason": "emulator"}
    assert (await api.post("/v1/lists/entries", json=body, headers=auth())).json()["author"].startswith("key:")
    scored = (await api.post("/v1/score", json=event("signup", device="emu-77"), headers=auth())).json()
    assert scored["decision"] == "deny" and scored["reasons"][0]["rule"] == "blocked_device"


async def test_bad_list_entries_name_the_field(api):
    cases = [
        ({"entity": "planet", "value": "x", "kind": "block", "reason": "r"}, "entity"),
        ({"entity": "device", "value": "x", "kind": "ban", "reason": "r"}, "kind"),
        ({"entity": "device", "value": "x", "kind": "block"}, "reason"),
        (
            {"entity": "device", "value": "x", "kind": "block", "reason": "r", "expires_at": "2001-01-01T00:00:00Z"},
            "expires_at",
        ),
    ]
    for body, field in cases:
        r = await api.post("/v1/lists/entries", json=body, headers=auth())
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == field, r.text
    r = await api.get("/v1/lists/entries", params={"limit": 0}, headers=auth())
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "limit"


async def test_tenants_never_see_each_others_counters_lists_or_customers(api):
    for _ in range(3):
        await api.post("/v1/score", json=event("signup", device="shared-dev"), headers=auth(ALPHA))
    alpha = (await api.post("/v1/score", json=event("signup", device="shared-dev"), headers=auth(ALPHA))).json()
    beta = (await api.post("/v1/score", json=event("signup", device="shared-dev"), headers=auth(BETA))).json()
    assert alpha["decision"] == "deny" and beta["decision"] == "allow"
    assert beta["offers"][0]["remaining"] == 4  # beta's own budget

    block = {"entity": "device", "value": "alpha-only", "kind": "block", "reason": "r"}
    await api.post("/v1/lists/entries", json=block, headers=auth(ALPHA))
    assert (await api.get("/v1/lists/entries/device/alpha-only", headers=auth(BETA))).json() == []
    beta_pages = (await api.get("/v1/lists/entries", headers=auth(BETA))).json()["entries"]
    assert all(e["hint"] != "alpha-only" for e in beta_pages)

    await api.post("/v1/score", json=event("signup", customer="c-alpha-only"), headers=auth(ALPHA))
    seen_by_alpha = (await api.get("/v1/customers/c-alpha-only", headers=auth(ALPHA))).json()
    seen_by_beta = (await api.get("/v1/customers/c-alpha-only", headers=auth(BETA))).json()
    assert len(seen_by_alpha["recent_decisions"]) == 1 and seen_by_alpha["offers"]
    assert seen_by_beta["recent_decisions"] == [] and seen_by_beta["offers"] == []

    retry = event("signup", device="dup")
    await api.post("/v1/score", json=retry, headers=auth(ALPHA))
    r = await api.post("/v1/score", json=retry, headers=auth(BETA))  # same event id, other tenant: no replay
    assert "idempotent-replayed" not in r.headers


async def test_customer_view(api):
    await api.post("/v1/score", json=event("signup", customer="c-view", device="dv"), headers=auth())
    await api.post("/v1/events", json=event("order_paid", customer="c-view", amount=99), headers=auth())
    view = (await api.get("/v1/customers/c-view", headers=auth())).json()
    assert view["customer"] == "c-view" and view["tier"] == "occasional"
    assert view["features"]["customer.orders_365d"] == 1
    [decision] = view["recent_decisions"]
    assert decision["decision"] == "allow" and decision["offers"] == ["newcomer_coupon"]
    assert [o["offer"] for o in view["offers"]] == ["newcomer_coupon"]
    r = await api.get("/v1/customers/" + "x" * 200, headers=auth())
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "customer"
