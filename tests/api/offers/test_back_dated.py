"""A back-dated event never gets a hold or reservation that has already ended (issue 16, defect 7).

``/v1/score`` holds event times to +-300 s, so this is reached on a deployment that trusts
event times (backfills): a referral 40 days old would have been answered ``held`` with a
``void_at`` 10 days past, a checkout 20 minutes old ``reserved`` with ``expires_at`` past.
Both are refused as ``too_late`` and spend no unit; recent ones are held and reserved.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.api.conftest import MakeApi, auth, event

PACK = """
pack: {name: greens, timezone: Asia/Shanghai}
tiers: [{id: regular, label: 常规型, default: true}]
offers:
  - id: referrer_box
    label: 推荐有礼
    tiers: [regular]
    on: [referral]
    beneficiary: referrer
    effect: {type: gift, description: 推荐人得一箱时令水果}
    budget: {total: 100}
    hold: {release_on: order_paid, void_after_days: 30}
  - id: checkout_minus5
    label: 下单立减5元
    tiers: [regular]
    on: [order]
    effect: {type: coupon, value: 5, description: 下单立减5元}
    budget: {total: 100}
    reserve: {ttl: 10m}
"""


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def answer(api: httpx.AsyncClient, body: dict[str, object]) -> dict[str, object]:
    response = await api.post("/v1/score", json=body, headers=auth())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_back_dated_holds_and_reservations_are_too_late(make_api: MakeApi, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "pack.yaml").write_text(PACK, encoding="utf-8")
    async with make_api(rules_path=rules, trust_event_time=True) as api:
        old_referral = await answer(api, event("referral", referrer="aunt_li", timestamp=ago(days=40)))
        assert old_referral["offers"] == []
        assert old_referral["withheld"] == [{"offer": "referrer_box", "why": "too_late"}]
        old_checkout = await answer(api, event("order", amount=60, timestamp=ago(minutes=20)))
        assert old_checkout["withheld"] == [{"offer": "checkout_minus5", "why": "too_late"}]
        fresh = await answer(api, event("referral", referrer="aunt_li", timestamp=ago(days=20)))
        (held,) = fresh["offers"]  # type: ignore[misc]
        assert held["status"] == "held" and datetime.fromisoformat(held["void_at"]) > datetime.now(UTC)
        fresh_checkout = await answer(api, event("order", amount=60, timestamp=ago(minutes=5)))
        (reserved,) = fresh_checkout["offers"]  # type: ignore[misc]
        assert reserved["status"] == "reserved" and datetime.fromisoformat(reserved["expires_at"]) > datetime.now(UTC)
        report = {r["offer"]: r for r in (await api.get("/v1/reports/offers", headers=auth())).json()["offers"]}
        assert report["referrer_box"]["used"] == 1 and report["checkout_minus5"]["used"] == 1  # late ones spent none
