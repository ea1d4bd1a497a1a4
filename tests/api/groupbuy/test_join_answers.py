"""What a group-buy join's answer and the reports say (issue 16, defects 1 and 2).

A join the book refuses (group completed, failed, the customer's limit) grants nothing:
its ``score.offers`` does not show the group-buy offer granted, the customer's page
does not list a grant for it, and ``/v1/reports/offers`` counts exactly the grants the
members got. Rules that fire on a join count in ``/v1/rules/hits`` like on ``/v1/score``.
"""

from __future__ import annotations

import httpx

from tests.api.conftest import auth
from tests.api.groupbuy.test_groupbuy import join_group, open_group
from tests.api.offers.conftest import offers_api as offers_api


def granted(answer: dict[str, object], offer: str) -> list[object]:
    score = answer["score"]
    assert isinstance(score, dict)
    return [o for o in score["offers"] if o["offer"] == offer and o["status"] == "granted"]


async def customer_grants(api: httpx.AsyncClient, customer: str, offer: str) -> list[object]:
    page = (await api.get(f"/v1/customers/{customer}", headers=auth())).json()
    return [g for g in page["offers"] if g.get("offer") == offer]


async def test_a_refused_join_grants_nothing_and_the_report_counts_real_grants(offers_api: httpx.AsyncClient) -> None:
    opened = await open_group(offers_api, "trial_group", "leader")
    assert opened["outcome"] == "open" and granted(opened, "trial_group")
    group_id = opened["group"]["group_id"]
    for member in ("m2", "m3"):
        joined = await join_group(offers_api, group_id, member)
        assert joined["outcome"] == "joined" and granted(joined, "trial_group")
    late = await join_group(offers_api, group_id, "m4")
    assert (late["outcome"], late["reason"]) == ("refused", "completed")
    assert granted(late, "trial_group") == [], late["score"]["offers"]
    assert all(o["offer"] != "strict_group" for o in late["score"]["offers"])  # another group-buy is not joined
    assert any(w["offer"] == "trial_group" and w["why"] == "completed" for w in late["score"]["withheld"])
    assert await customer_grants(offers_api, "m4", "trial_group") == []
    # per_customer: 1 -- the leader opening a second group is refused, and still has one grant
    second = await open_group(offers_api, "trial_group", "leader")
    assert (second["outcome"], second["reason"]) == ("refused", "customer_limit")
    assert granted(second, "trial_group") == []
    assert len(await customer_grants(offers_api, "leader", "trial_group")) == 1
    report = (await offers_api.get("/v1/reports/offers", headers=auth())).json()
    row = next(r for r in report["offers"] if r["offer"] == "trial_group")
    assert row["granted"] == 3, row


async def test_rules_that_fire_on_a_join_are_counted(offers_api: httpx.AsyncClient) -> None:
    opened = await open_group(offers_api, "trial_group", "hits_leader")
    risky = await join_group(offers_api, opened["group"]["group_id"], "hits_m2", phone="17012345678")
    assert (risky["outcome"], risky["reason"]) == ("refused", "risk")
    assert "virtual_phone" in [r["rule"] for r in risky["score"]["reasons"]]
    hits = (await offers_api.get("/v1/rules/hits", headers=auth())).json()
    assert hits["events"] == 2, hits
    assert {r["id"]: r["hits"] for r in hits["rules"]}["virtual_phone"] == 1
