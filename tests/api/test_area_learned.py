"""The area learned from payers, through the API: a Hangzhou studio whose pack says 北京.

Its parents sign up with Zhejiang numbers and pay through ``/v1/events``; once the worker's
snapshot is refreshed, a Zhejiang number is local. A farmer's accounts that pay and refund
in full teach nothing, and scoring never waits on Redis for the area.
"""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import auth, event

PACK = """pack: {name: area, service_area: [北京]}
decision: {review_at: 40, deny_at: 80}
tiers:
  - {id: occasional, default: true}
rules:
  - id: far_number
    code: 1
    on: [signup]
    when: phone.outside_area
    score: 40
    reason: {zh: 外地号码, en: out-of-area number}
"""
ZHEJIANG, HENAN = "1300370", "1301554"


def _pack(tmp_path: Path) -> Path:
    rules = tmp_path / "area-rules"
    rules.mkdir()
    (rules / "pack.yaml").write_text(PACK, encoding="utf-8")
    return rules


async def _rules(api, phone: str) -> list[str]:  # type: ignore[no-untyped-def]
    answer = (await api.post("/v1/score", json=event("signup", phone=phone), headers=auth())).json()
    return [r["rule"] for r in answer["reasons"]]


async def _payers(api, block: str, count: int, prefix: str, *, refund: bool = False) -> None:  # type: ignore[no-untyped-def]
    for i in range(count):
        customer = f"{prefix}{i}"
        r = await api.post(
            "/v1/score", json=event("signup", customer=customer, phone=f"{block}{i:04d}"), headers=auth()
        )
        assert r.status_code == 200
        paid = await api.post("/v1/events", json=event("order_paid", customer=customer, amount=99), headers=auth())
        assert paid.status_code == 200, paid.text
        if refund:
            back = await api.post("/v1/events", json=event("refund", customer=customer, amount=99), headers=auth())
            assert back.status_code == 200, back.text


async def test_the_stores_payers_make_their_province_local(make_api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with make_api(rules_path=_pack(tmp_path)) as api:
        areas = api.app.state.runtime.services.areas  # type: ignore[attr-defined]
        assert await _rules(api, f"{ZHEJIANG}9999") == ["far_number"]  # nobody paid yet: the declared area
        await _payers(api, HENAN, 30, "hired", refund=True)  # pay and refund in full: teaches nothing
        await _payers(api, ZHEJIANG, 25, "mum")
        await areas.drain()
        counts = await areas.refresh("alpha")
        assert counts == {"浙江": 25, "*": 25}
        assert await _rules(api, f"{ZHEJIANG}9998") == []  # the studio's own town
        assert await _rules(api, f"{HENAN}9998") == ["far_number"]  # the farmer's is still elsewhere


async def test_another_tenants_payers_do_not_move_this_ones_area(make_api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with make_api(rules_path=_pack(tmp_path)) as api:
        areas = api.app.state.runtime.services.areas  # type: ignore[attr-defined]
        await _payers(api, ZHEJIANG, 25, "mum")
        await areas.drain()
        assert await areas.refresh("beta") == {}
        assert (await areas.refresh("alpha"))["浙江"] == 25
