"""Red team, session 8: session 7's merged code, attacked as a caller who controls every byte, and as a farm.

Breaches found and closed here:

- **a payer for nothing** (the learned service area, engine/area). A Hangzhou studio whose pack says
  北京 learns 浙江 from its payers. A farm's accounts were counted as payers of their province (河南)
  by a free order (an ``order_paid`` of 0: a 0元 gift checkout, an order its coupon paid in full,
  counted as a cent) or by buying the trial and refunding all of it but a fen. Three such accounts
  beside 20 parents made 河南 "local": every rule reading ``phone.outside_area`` / ``ip.outside_area``
  was off for the farm's numbers. A payer now counts while it keeps at least half of what it paid,
  and an order of 0 adds nothing.

What held is kept as cheap guards: the tests named ``..._held``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import auth, event
from tests.api.test_area_learned import HENAN, ZHEJIANG, _pack, _payers, _rules


async def _farm(api: Any, how: str) -> None:
    for i in range(3):
        customer = f"farm-{how}-{i}"
        body = event("signup", customer=customer, phone=f"{HENAN}{i:04d}")
        assert (await api.post("/v1/score", json=body, headers=auth())).status_code == 200
        paid = event("order_paid", customer=customer, amount=0 if how == "free" else 99)
        assert (await api.post("/v1/events", json=paid, headers=auth())).status_code == 200
        if how == "fen":
            back = event("refund", customer=customer, amount=98.99)
            assert (await api.post("/v1/events", json=back, headers=auth())).status_code == 200


@pytest.mark.parametrize("how", ["free", "fen"])
async def test_a_farm_cannot_make_its_province_local_with_free_or_refunded_orders(
    make_api: Any, tmp_path: Path, how: str
) -> None:
    async with make_api(rules_path=_pack(tmp_path)) as api:
        areas = api.app.state.runtime.services.areas
        await _payers(api, ZHEJIANG, 20, "mum")
        await _farm(api, how)
        await areas.drain()
        counts = await areas.refresh("alpha")
        assert counts == {"浙江": 20, "*": 20}, counts  # was 河南: 3 of 23, 13% >= 10%: "local"
        assert await _rules(api, f"{HENAN}9990") == ["far_number"]
        assert await _rules(api, f"{ZHEJIANG}9990") == []


async def test_a_free_order_releases_no_held_referral_reward(api: Any) -> None:
    """刷单 for nothing: the referrer's gift is held until its friend pays; the friend's 0元 checkout (a free
    gift's order) released it. An order of 0 releases nothing; the friend's real payment later does."""
    referral = event("referral", customer="friend-free", referrer="mum-free", device="dev-friend-free")
    [offer] = (await api.post("/v1/score", json=referral, headers=auth())).json()["offers"]
    assert offer["status"] == "held"
    free = await api.post("/v1/events", json=event("order_paid", customer="friend-free", amount=0), headers=auth())
    assert free.status_code == 200 and free.json()["holds"] == []
    view = (await api.get("/v1/customers/mum-free", headers=auth())).json()
    assert [(o["offer"], o["status"]) for o in view["offers"]] == [("referral_gift", "held")]
    paid = await api.post("/v1/events", json=event("order_paid", customer="friend-free", amount=99), headers=auth())
    assert [(h["hold_id"], h["status"]) for h in paid.json()["holds"]] == [(offer["hold_id"], "released")]
