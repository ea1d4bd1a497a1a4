"""Why / why not per offer, contact allowance in the same call, and stacking policies, over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.api.conftest import auth, event

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def score(api: httpx.AsyncClient, body: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = await api.post("/v1/score", json=body, headers=auth(), params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def explained(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["offer"]: entry for entry in body["explain"]}


async def test_explain_lists_every_offer_with_the_failing_condition_and_the_values_read(
    offers_api: httpx.AsyncClient,
) -> None:
    body = await score(offers_api, event("order", amount=150, attributes={"policy": "priority"}), explain="true")
    why = explained(body)
    assert len(why) == 18  # every offer of the pack, applied or not
    assert why["priority_pct10"]["applied"] is True and why["priority_pct10"]["value"] == 15.0
    assert why["priority_minus30"] == {
        "offer": "priority_minus30",
        "label": "满200减30",
        "group": "checkout_priority",
        "applied": False,
        "why": "condition",
        "failed": [{"condition": "(event.amount >= 200)", "values": {"event.amount": 150.0}}],
    }
    assert why["checkout_coupon"]["failed"] == [
        {"condition": "(attr.checkout == true)", "values": {"attr.checkout": None}}
    ]
    assert why["priority_points"]["why"] == "exclusive"
    assert why["priority_points"]["chosen"] == "priority_pct10"
    assert why["advisor"] | {"tiers": ["important"]} == why["advisor"] and why["advisor"]["why"] == "tier"
    assert why["advisor"]["tier"] == "regular"
    assert why["trial_group"]["why"] == "event_type" and why["trial_group"]["on"] == ["group_buy_join"]
    assert "explain" not in await score(offers_api, event("order", amount=150))  # only on request


async def test_explain_says_risk_withheld_an_offer_and_names_the_rules(offers_api: httpx.AsyncClient) -> None:
    body = await score(
        offers_api, event("order", amount=150, phone="17012345678", attributes={"policy": "priority"}), explain="true"
    )
    assert body["decision"] == "review" and body["offers"] == []
    entry = explained(body)["priority_pct10"]
    assert entry["why"] == "risk"
    assert entry["decision"] == "review" and entry["rules"] == ["virtual_phone"]


async def test_explain_says_which_cap_blocked_and_what_is_left(offers_api: httpx.AsyncClient) -> None:
    first = event("order", amount=120, attributes={"checkout": True})
    granted = await score(offers_api, first)
    assert [o["offer"] for o in granted["offers"]] == ["checkout_coupon"]
    again = event("order", customer=first["customer"], amount=130, attributes={"checkout": True})
    body = await score(offers_api, again, explain="true")
    entry = explained(body)["checkout_coupon"]
    assert entry["why"] == "customer_cap"
    assert entry["budget"]["total"] == 50 and entry["budget"]["remaining"] == 49
    assert entry["budget"]["per_customer"] == 1 and entry["budget"]["customer_used"] == 1


def last_noon_in_shanghai() -> str:
    """Outside the pack's quiet hours (22:00-08:00) whenever the test runs, and never in the future."""
    now = datetime.now(SHANGHAI)
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    return (noon if noon <= now else noon - timedelta(days=1)).isoformat()


async def test_one_call_answers_risk_offer_and_contact_allowance(timed_offers_api: httpx.AsyncClient) -> None:
    at = last_noon_in_shanghai()
    signup = event("signup", timestamp=at)
    body = await score(timed_offers_api, signup, contact="one_to_one")
    assert body["decision"] == "allow" and [o["offer"] for o in body["offers"]] == ["newcomer_test"]
    assert body["contact"]["allowed"] is True and body["contact"]["recorded"] is False
    again = event("signup", customer=signup["customer"], timestamp=at)
    recorded = await score(timed_offers_api, again, contact="one_to_one", contact_record="true")
    assert recorded["contact"]["recorded"] is True
    third = event("signup", customer=signup["customer"], timestamp=at)
    refused = await score(timed_offers_api, third, contact="one_to_one")
    assert refused["contact"]["allowed"] is False and refused["contact"]["reason"] == "cap"
    assert refused["contact"]["next_allowed_at"] is not None


#: cart amount -> policy -> (granted offers, their values); 10% / 30 off from 200 / 500 points (5 yuan)
EXPECTED: dict[float, dict[str, tuple[list[str], list[float]]]] = {
    200: {
        "priority": (["pct10"], [20.0]),
        "best_for_customer": (["minus30"], [30.0]),
        "best_for_merchant": (["points"], [5.0]),
        "stack_all": (["pct10", "minus30", "points"], [20.0, 20.0, 0.0]),  # capped at max_value 40
    },
    500: {
        "priority": (["pct10"], [50.0]),
        "best_for_customer": (["pct10"], [50.0]),
        "best_for_merchant": (["points"], [5.0]),
        "stack_all": (["pct10", "minus30", "points"], [40.0, 0.0, 0.0]),
    },
    100: {
        "priority": (["pct10"], [10.0]),
        "best_for_customer": (["pct10"], [10.0]),
        "best_for_merchant": (["points"], [5.0]),
        "stack_all": (["pct10", "points"], [10.0, 5.0]),
    },
}


@pytest.mark.parametrize("amount", sorted(EXPECTED))
async def test_each_stacking_policy_on_carts_where_they_disagree(offers_api: httpx.AsyncClient, amount: float) -> None:
    for policy, (names, values) in EXPECTED[amount].items():
        body = await score(offers_api, event("order", amount=amount, attributes={"policy": policy}))
        assert [o["offer"] for o in body["offers"]] == [f"{policy}_{n}" for n in names], policy
        assert [o["value"] for o in body["offers"]] == values, policy
        assert body["total_value"] == sum(values)
