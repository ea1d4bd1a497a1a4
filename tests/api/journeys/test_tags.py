"""A journey's ``tag`` action is shown on ``GET /v1/customers/{id}`` (issue 16, defect 3)."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import MakeApi, auth, event

PACK = """
pack: {name: greens, timezone: Asia/Shanghai}
tiers: [{id: regular, label: 常规型, default: true}]
journeys:
  - id: greens
    start: new
    stages: {new: {label: 新客}, buyer: {label: 已下单}}
    transitions:
      - {from: [new], on: [order_paid], to: buyer, actions: [{tag: first_box}, {tag: weekly_veg}]}
"""


async def test_a_tagged_customer_shows_the_tag(make_api: MakeApi, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "pack.yaml").write_text(PACK, encoding="utf-8")
    async with make_api(rules_path=rules) as api:
        before = (await api.get("/v1/customers/aunt_li", headers=auth())).json()
        assert before["tags"] == []
        paid = await api.post("/v1/events", json=event("order_paid", customer="aunt_li", amount=39), headers=auth())
        assert paid.status_code == 200, paid.text
        actions = [a for move in paid.json()["journeys"] for a in move["actions"]]
        assert [a["result"] for a in actions] == ["tagged", "tagged"], actions
        view = (await api.get("/v1/customers/aunt_li", headers=auth())).json()
        assert view["tags"] == ["first_box", "weekly_veg"]
        assert view["journeys"][0]["stage"] == "buyer"
        other = (await api.get("/v1/customers/uncle_wu", headers=auth())).json()
        assert other["tags"] == []
