"""POST /v1/events: held referral rewards released by a paid order, voided by a fraud label."""

from __future__ import annotations

from tests.api.conftest import ALPHA, auth, event


async def post(api, path, body, key=ALPHA):
    r = await api.post(path, json=body, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


async def refer(api, referrer, invitee):
    body = await post(api, "/v1/score", event("referral", customer=invitee, referrer=referrer, device=f"dev-{invitee}"))
    [offer] = body["offers"]
    assert offer["offer"] == "referral_gift" and offer["status"] == "held"
    assert offer["beneficiary"] == referrer and offer["release_on"] == "order_paid" and offer["void_at"]
    return offer


async def test_held_reward_is_released_by_the_invitees_paid_order(api):
    offer = await refer(api, "mum-li", "friend-wang")
    paid = await post(api, "/v1/events", event("order_paid", customer="friend-wang", amount=99))
    assert paid["holds"] == [
        {
            "hold_id": offer["hold_id"],
            "offer": "referral_gift",
            "status": "released",
            "reason": "order_paid",
            "invitee": "friend-wang",
            "beneficiary": "mum-li",
        }
    ]
    view = (await api.get("/v1/customers/mum-li", headers=auth())).json()
    assert [(o["offer"], o["status"]) for o in view["offers"]] == [("referral_gift", "released")]


async def test_fraud_label_voids_the_hold_and_blocks_the_customer(api):
    offer = await refer(api, "mum-zhao", "farm-acct-1")
    label = await post(
        api, "/v1/events", event("label", customer="farm-acct-1", label="fraud", device="dev-farm-acct-1")
    )
    assert [(h["hold_id"], h["status"]) for h in label["holds"]] == [(offer["hold_id"], "voided")]
    assert {"entity": "customer", "kind": "block", "action": "added"} in label["lists"]
    assert {"entity": "device", "kind": "watch", "action": "added"} in label["lists"]
    again = await post(api, "/v1/score", event("signup", customer="farm-acct-1"))
    assert again["decision"] == "deny" and "blocked_customer" in [r["rule"] for r in again["reasons"]]
    paid = await post(api, "/v1/events", event("order_paid", customer="farm-acct-1", amount=99))
    assert paid["holds"] == []  # a voided hold is never released later
    cleared = await post(api, "/v1/events", event("label", customer="farm-acct-1", label="legit"))
    assert {"entity": "customer", "kind": "block", "action": "removed"} in cleared["lists"]


async def test_paid_orders_feed_features_and_tiers(api):
    for _ in range(3):
        await post(api, "/v1/events", event("order_paid", customer="vip-1", amount=5000))
    body = await post(api, "/v1/score", event("order", customer="vip-1", amount=100))
    assert body["tier"] == "important"
    assert [o["offer"] for o in body["offers"]] == ["vip_privilege"]


async def test_outcome_retry_returns_the_first_response(api):
    await refer(api, "mum-sun", "friend-qian")
    body = event("order_paid", customer="friend-qian", amount=99)
    first = await api.post("/v1/events", json=body, headers=auth())
    second = await api.post("/v1/events", json=body, headers=auth())
    assert first.json() == second.json() and first.json()["holds"]
    assert second.headers["idempotent-replayed"] == "true"


async def test_scored_types_and_bad_labels_are_refused(api):
    r = await api.post("/v1/events", json=event("signup"), headers=auth())
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "type"
    r = await api.post("/v1/events", json=event("label"), headers=auth())
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "label"
    r = await api.post("/v1/events", json=event("label", label="maybe"), headers=auth())
    assert r.status_code == 422 and "label" in r.json()["error"]["message"]
