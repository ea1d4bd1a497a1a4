"""Red team, session 7: the counter tablet's pass, as a farm that learned its device id.

A registered store device (``store_walk_in``) or an allow-listed one (``store_device``)
answers ``allow`` whatever the score: walk-in parents signed up by staff look like a device
farm, and the merchant says they are not. A device id is the storefront's claim, so a farm
that learned the tablet's id sent it from an emulator running an auto-clicker, a hooked
mini-program or a headless script: every one of those rules was outranked by the pass, and
each sign-up took a 99-yuan trial worth 600. The tablet lends its trust only to what a
counter tablet looks like; the SDK's own evidence that the event is not one (emulator,
automation, tampering, a scripted user agent) keeps its weight.

Also here: what a block-listed farmer gets while Redis is away (decided, not a snapshot of
the lists: SECURITY.md, "Live lists during an outage").
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.datastore.embedded import EmbeddedRedis, free_port
from tests.api.conftest import BETA, auth, event

SHIPPED = Path(__file__).resolve().parents[2] / "rules"
TELLS: list[dict[str, Any]] = [
    {"emulator": True},
    {"automation": True},
    {"tampered": True},
    {"user_agent": "Mozilla/5.0 HeadlessChrome/120.0"},
]


def rules(answer: dict[str, Any]) -> set[str]:
    return {r["rule"] for r in answer["reasons"]}


@pytest.mark.parametrize("register", ["store", "allow"])
async def test_a_copied_counter_device_id_lends_no_pass_to_an_emulator_or_a_script(make_api, register: str) -> None:
    async with make_api(rules_path=SHIPPED) as api:
        if register == "store":
            body: dict[str, Any] = {"device": "counter-x", "label": "前台iPad"}
            assert (await api.post("/v1/devices", json=body, headers=auth())).status_code == 201
        else:
            body = {"entity": "device", "value": "counter-x", "kind": "allow", "reason": "前台"}
            assert (await api.post("/v1/lists/entries", json=body, headers=auth())).status_code == 201
        for n, attributes in enumerate(TELLS):
            signup = event("signup", device="counter-x", phone=f"1361112{n:04d}", attributes=attributes)
            answer = (await api.post("/v1/score", json=signup, headers=auth())).json()
            assert answer["decision"] != "allow", (attributes, answer["reasons"])
            assert answer["offers"] == [], attributes
            assert not {"store_walk_in", "store_device"} & rules(answer), attributes
        ipad = {"user_agent": "Mozilla/5.0 iPad"}
        walk_in = event("signup", device="counter-x", phone="13611120099", attributes=ipad)
        honest = (await api.post("/v1/score", json=walk_in, headers=auth())).json()
        assert honest["decision"] == "allow" and {"store_walk_in", "store_device"} & rules(honest)
        assert [o["offer"] for o in honest["offers"]] == ["trial_99"]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "outage-redis", port=free_port()).start()
    yield server
    server.stop()


async def test_a_blocked_farmer_gets_nothing_from_an_outage_held(make_api, own_redis: EmbeddedRedis) -> None:
    """The live block list is not read with Redis away; the ledger is not either, so nothing is granted on any
    type, and the types whose abuse costs money at once are not allowed."""
    async with make_api(redis_url=own_redis.url, redis_timeout_s=0.3, breaker_s=0.2, rules_path=SHIPPED) as api:
        body = {"entity": "customer", "value": "farm-9", "kind": "block", "reason": "label: fraud"}
        assert (await api.post("/v1/lists/entries", json=body, headers=auth())).status_code == 201
        await asyncio.to_thread(own_redis.stop)
        fields: dict[str, dict[str, Any]] = {
            "signup": {},
            "referral": {"referrer": "farm-8"},
            "order": {"amount": 99, "campaign": "trial_99"},
            "coupon_claim": {"coupon": "NEWBIE50", "amount": 50, "campaign": "weekly_welfare"},
            "red_packet_claim": {"amount": 5, "group": "parents-1", "campaign": "weekly_welfare"},
            "group_buy_join": {"group": "gb-1", "campaign": "group_buy_69"},
        }
        for kind, extra in fields.items():
            answer = (await api.post("/v1/score", json=event(kind, customer="farm-9", **extra), headers=auth())).json()
            assert answer["degraded"] is True and answer["offers"] == [], kind
            if kind in ("coupon_claim", "red_packet_claim", "group_buy_join"):
                assert answer["decision"] != "allow", kind


LIGHT = """pack: {name: t, timezone: Asia/Shanghai}
tiers: [{id: everyone, default: true}]
decision: {review_at: 40, deny_at: 70}
"""


async def test_a_tenant_pack_of_hundreds_of_offers_cannot_degrade_another_tenant(make_api, tmp_path: Path) -> None:
    """Alpha's admin layers 300 valid offers on the base: each signup reserved 300 units in one ledger script,
    past the Redis timeout, and the breaker it opened degraded beta's answers too. Such a pack does not compile
    now (LIMIT_EXCEEDED), so alpha keeps the base and beta never notices."""
    root = tmp_path / "pack"
    (root / "tenants" / "alpha").mkdir(parents=True)
    (root / "pack.yaml").write_text(LIGHT)
    offers = "\n".join(
        f"  - {{id: o{i}, label: x, tiers: [everyone], on: [signup], effect: {{type: points, value: 1}},"
        " value_yuan: 1, beneficiary: customer, budget: {total: 100000, per_customer: 5}}"
        for i in range(300)
    )
    (root / "tenants" / "alpha" / "offers.yaml").write_text(f"offers:\n{offers}\n")
    async with make_api(rules_path=root) as api:
        for _ in range(3):
            alpha = (await api.post("/v1/score", json=event("signup"), headers=auth())).json()
            beta = (await api.post("/v1/score", json=event("signup"), headers=auth(BETA))).json()
            assert (alpha["degraded"], beta["degraded"]) == (False, False), beta.get("degraded_reason")
