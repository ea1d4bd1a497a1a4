"""A refused offer names every cause that holds, not only the first (issue 16, defect 8).

A customer who already used a limited offer, after the last unit went, must hear both
``exhausted`` and ``customer_cap``: a merchant raising the total would otherwise expect
that customer to get it again.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.api.conftest import MakeApi, auth, event

PACK = """
pack: {name: causes, timezone: Asia/Shanghai}
tiers: [{id: regular, label: 常规型, default: true}]
offers:
  - id: first_box
    label: 首单鲜果箱
    tiers: [regular]
    on: [order]
    effect: {type: coupon, value: 20, description: 首单减20元}
    budget: {total: 2, per_customer: 1}
"""


async def withheld(api: httpx.AsyncClient, customer: str) -> list[dict[str, object]]:
    response = await api.post("/v1/score", json=event("order", customer=customer, amount=80), headers=auth())
    assert response.status_code == 200, response.text
    return list(response.json()["withheld"])


async def test_a_refusal_gives_every_cause(make_api: MakeApi, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "pack.yaml").write_text(PACK, encoding="utf-8")
    async with make_api(rules_path=rules) as api:
        assert await withheld(api, "ann") == []
        again = await withheld(api, "ann")
        assert again == [{"offer": "first_box", "why": "customer_cap"}]  # one cause: no 'causes' list
        assert await withheld(api, "bob") == []
        both = await withheld(api, "ann")
        assert both == [{"offer": "first_box", "why": "exhausted", "causes": ["exhausted", "customer_cap"]}]
        assert await withheld(api, "cat") == [{"offer": "first_box", "why": "exhausted"}]
