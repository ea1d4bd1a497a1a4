"""The store-device register: a merchant's counter tablet signs up walk-ins without looking like a farm.

Honest look-alike (DOMAIN.md): "the store's own counter tablet signing up walk-ins".
The attacker's side: a device id is the storefront's claim, so a registered id must not
open claims or red packets, another tenant's register must not count, and only admin
keys may register.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.api.conftest import ALPHA_SCORE, BETA, auth, event

SHIPPED = Path(__file__).resolve().parents[2] / "rules"


def rules(answer: dict) -> set[str]:
    return {r["rule"] for r in answer["reasons"]}


async def test_walk_ins_on_a_registered_counter_tablet_are_store_traffic(make_api) -> None:
    async with make_api(rules_path=SHIPPED) as api:
        before = []
        for n in range(6):
            body = event("signup", customer=f"walkin-a{n}", device="counter-7", phone=f"1361111{n:04d}")
            before.append((await api.post("/v1/score", json=body, headers=auth())).json())
        assert before[-1]["decision"] == "deny" and "device_account_farm" in rules(before[-1])

        expires = (datetime.now(UTC) + timedelta(days=90)).isoformat()
        body = {"device": "counter-7", "label": "前台iPad", "expires_at": expires}
        registered = await api.post("/v1/devices", json=body, headers=auth())
        assert registered.status_code == 201
        assert registered.json()["author"].startswith("key:") and registered.json()["label"] == "前台iPad"

        after = (await api.post("/v1/score", json=event("signup", device="counter-7"), headers=auth())).json()
        assert after["decision"] == "allow" and {"device_account_farm", "store_walk_in"} <= rules(after)
        assert [o["offer"] for o in after["offers"]] == ["trial_99"]  # a walk-in gets the newcomer trial

        # a claim on the counter tablet is not a walk-in's sign-up: no pass for a copied device id
        claim = event("red_packet_claim", device="counter-7", amount=5, group="parents-1", campaign="weekly_welfare")
        claimed = (await api.post("/v1/score", json=claim, headers=auth())).json()
        assert "store_walk_in" not in rules(claimed) and claimed["decision"] != "allow"

        listed = (await api.get("/v1/devices", headers=auth())).json()
        assert {"counter-7", "store-ipad-02"} <= {d["device"] for d in listed["devices"]}  # and the pack's seed
        assert (await api.delete("/v1/devices/counter-7", headers=auth())).status_code == 204
        assert (await api.get("/v1/devices/counter-7", headers=auth())).status_code == 404
        retired = (await api.post("/v1/score", json=event("signup", device="counter-7"), headers=auth())).json()
        assert "store_walk_in" not in rules(retired) and retired["decision"] == "deny"


async def test_a_farm_that_learned_the_counter_tablets_id_gets_no_referral_through(make_api) -> None:
    # attack (issue 14): the farm copies the registered counter tablet's device id onto its
    # invitees' referrals; store_walk_in allowed them and released the referral reward
    async with make_api(rules_path=SHIPPED) as api:
        body = {"device": "counter-7", "label": "前台iPad"}
        assert (await api.post("/v1/devices", json=body, headers=auth())).status_code == 201
        answers = []
        for n in range(6):
            referral = event("referral", customer=f"farm-inv{n}", referrer="farm-boss", device="counter-7")
            answers.append((await api.post("/v1/score", json=referral, headers=auth())).json())
        assert all("store_walk_in" not in rules(answer) for answer in answers)
        assert answers[-1]["decision"] != "allow" and "device_account_farm" in rules(answers[-1])
        # the staff's own walk-in sign-ups on it still pass
        walk_in = (await api.post("/v1/score", json=event("signup", device="counter-7"), headers=auth())).json()
        assert walk_in["decision"] == "allow" and "store_walk_in" in rules(walk_in)


async def test_a_register_is_per_tenant_and_admin_only(make_api) -> None:
    async with make_api(rules_path=SHIPPED) as api:
        refused = await api.post("/v1/devices", json={"device": "counter-8", "label": "x"}, headers=auth(ALPHA_SCORE))
        assert refused.status_code == 403
        assert (
            await api.post("/v1/devices", json={"device": "counter-8", "label": "柜台"}, headers=auth())
        ).status_code == 201
        assert (await api.get("/v1/devices/counter-8", headers=auth(BETA))).status_code == 404
        signup = (await api.post("/v1/score", json=event("signup", device="counter-8"), headers=auth(BETA))).json()
        assert "store_walk_in" not in rules(signup)


async def test_bad_registrations_are_422s_naming_the_field(api) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    cases = [
        ({"device": "counter-9", "label": "x", "expires_at": past}, "expires_at"),
        ({"device": "counter 9", "label": "x"}, "device"),
        ({"device": "counter-9", "label": ""}, "label"),
        ({"device": "counter-9"}, "label"),
    ]
    for body, field in cases:
        answer = await api.post("/v1/devices", json=body, headers=auth())
        assert answer.status_code == 422, body
        assert [f["field"] for f in answer.json()["error"]["fields"]] == [field], body


async def test_only_devices_can_be_store_entries_on_the_lists_route(api) -> None:
    body = {"entity": "phone", "value": "13800138000", "kind": "store", "reason": "not a device"}
    answer = await api.post("/v1/lists/entries", json=body, headers=auth())
    assert answer.status_code == 422 and [f["field"] for f in answer.json()["error"]["fields"]] == ["kind"]
    device = {"entity": "device", "value": "counter-10", "kind": "store", "reason": "前台"}
    assert (await api.post("/v1/lists/entries", json=device, headers=auth())).status_code == 201
    assert (await api.get("/v1/devices/counter-10", headers=auth())).json()["label"] == "前台"
