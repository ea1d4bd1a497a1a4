"""Code resale through the real API: a group's code redeemed outside the group goes to review.

The shipped pack binds ``QUN09-*`` codes to the parents-09 group and ``RAIN2026A`` to the
red-packet rain campaign (rules/risk/coupons.yaml). Attacker's view: the storefront relays
what the buyer does, so naming the group or campaign on the redemption must not help.
"""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import BETA, auth, event

SHIPPED = Path(__file__).resolve().parents[2] / "rules"


def rules(answer: dict) -> set[str]:
    return {r["rule"] for r in answer["reasons"]}


async def claim(api, customer: str, code: str, headers: dict[str, str] | None = None, **fields: str) -> dict:
    body = event("coupon_claim", customer=customer, coupon=code, amount=20, campaign="weekly_welfare", **fields)
    return (await api.post("/v1/score", json=body, headers=headers or auth())).json()


async def test_a_group_code_in_the_group_passes_and_outside_it_is_reviewed(make_api) -> None:
    async with make_api(rules_path=SHIPPED) as api:
        bought = await claim(api, "buyer-1", "QUN09-7F3K", group="parents-09")  # naming the group proves nothing
        # flagged, and not allowed (a brand-new account with a group code is also group_code_new_account: deny)
        assert "code_outside_binding" in rules(bought) and bought["decision"] in {"review", "deny"}

        joined = event("member_joined", customer="mum-9", group="parents-09")
        assert (await api.post("/v1/events", json=joined, headers=auth())).status_code == 200
        member = await claim(api, "mum-9", "QUN09-8H2M")
        assert "code_outside_binding" not in rules(member)
        assert "code_outside_binding" not in rules(await claim(api, "mum-9", "NOT-BOUND-1"))

        # the same customer in another tenant is not a member there
        assert "code_outside_binding" in rules(await claim(api, "mum-9", "QUN09-8H2M", headers=auth(BETA)))

        left = event("member_left", customer="mum-9", group="parents-09")
        assert (await api.post("/v1/events", json=left, headers=auth())).status_code == 200
        assert "code_outside_binding" in rules(await claim(api, "mum-9", "QUN09-9Z"))


async def test_a_campaign_code_needs_a_part_in_the_campaign_before_it(make_api) -> None:
    async with make_api(rules_path=SHIPPED) as api:
        outsider = await claim(api, "buyer-2", "RAIN2026A")
        assert "code_outside_binding" in rules(outsider)
        packet = event("red_packet_claim", customer="mum-r", amount=5, group="parents-1", campaign="red_packet_rain")
        assert (await api.post("/v1/score", json=packet, headers=auth())).status_code == 200
        assert "code_outside_binding" not in rules(await claim(api, "mum-r", "RAIN2026A"))
