"""A farm that types one identity several ways is still one identity, through the real API.

Shared back ends (DOMAIN.md): many accounts, one wallet, one delivery address typed
several ways. Counters, lists and link members must see one value.
"""

# ruff: noqa: RUF001 - full-width digits, letters and punctuation are what these tests fold

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import auth, event

SHIPPED = Path(__file__).resolve().parents[2] / "rules"
ADDRESSES = (
    "浙江省杭州市西湖区文三路100号3栋2单元501室",
    "杭州西湖区文三路１００号３幢二单元５０１",
    "西湖区 文三路100號 3-2-501",
    "浙江杭州西湖区文三路100号3号楼2门501房",
    "杭州市西湖区 文三路 100 号 3 栋 2 单元 501",
)


def reasons(answer: dict) -> dict[str, dict]:
    return {r["rule"]: r.get("values") or {} for r in answer["reasons"]}


async def test_five_accounts_at_one_flat_typed_five_ways_are_five_accounts_at_one_address(make_api) -> None:
    async with make_api(rules_path=SHIPPED) as api:
        answers = []
        for n, address in enumerate(ADDRESSES):
            # the back end pays every checkout from its one wallet
            body = event(
                "order", customer=f"drop{n}", amount=299, device=f"dv-drop{n}", address=address, payment="wx-drop"
            )
            answers.append((await api.post("/v1/score", json=body, headers=auth())).json())
        shared = [reasons(a).get("address_shared_accounts") for a in answers]
        # the shipped pack flags an address from its fifth account paid from few wallets
        # (rules/risk/multi_account.yaml): five accounts at one address, one wallet between them
        assert shared == [None, None, None, None, {"address.accounts_30d": 5, "address.payments_30d": 1}]
        # a neighbour one door along is another address
        door = event("order", customer="neighbour", amount=299, address="西湖区文三路100号3栋2单元502室")
        assert "address_shared_accounts" not in reasons((await api.post("/v1/score", json=door, headers=auth())).json())


async def test_a_listed_address_is_hit_whichever_way_it_is_typed(make_api) -> None:
    async with make_api(rules_path=SHIPPED) as api:
        entry = {"entity": "address", "value": ADDRESSES[0], "kind": "block", "reason": "parcel drop of a farm"}
        created = await api.post("/v1/lists/entries", json=entry, headers=auth())
        assert created.status_code == 201
        for address in ADDRESSES[1:]:
            body = event("order", amount=99, address=address)
            answer = (await api.post("/v1/score", json=body, headers=auth())).json()
            assert "blocked_address" in reasons(answer), address


async def test_one_wallet_behind_three_accounts_is_flagged_at_the_third(make_api) -> None:
    async with make_api(rules_path=SHIPPED) as api:
        answers = []
        for n in range(3):
            body = event("order", customer=f"wallet{n}", amount=99, device=f"dv-w{n}", payment="wx-oUpF8uMuAJO_M2pxb")
            answers.append((await api.post("/v1/score", json=body, headers=auth())).json())
        shared = [reasons(a).get("payment_shared_accounts", {}).get("payment.accounts_30d") for a in answers]
        assert shared == [None, None, 3]
        other = event("order", customer="wallet3", amount=99, payment="wx-another-wallet")
        assert "payment_shared_accounts" not in reasons(
            (await api.post("/v1/score", json=other, headers=auth())).json()
        )


@pytest.mark.parametrize("route", ["/v1/score", "/v1/events"])
@pytest.mark.parametrize("pan", ["4111111111111111", "4111 1111 1111 1111", "6222021234567890128"])
async def test_a_card_number_as_payment_is_refused_naming_the_field(api, route: str, pan: str) -> None:
    body = event("order" if route == "/v1/score" else "order_paid", amount=99, payment=pan)
    answer = await api.post(route, json=body, headers=auth())
    assert answer.status_code == 422
    fields = answer.json()["error"]["fields"]
    assert [f["field"] for f in fields] == ["payment"] and "card number" in fields[0]["message"]
    assert pan not in answer.text  # the number is not echoed back into logs and clients


async def test_an_address_of_only_punctuation_is_a_422_naming_it(api) -> None:
    answer = await api.post("/v1/score", json=event("order", amount=9, address="-- ，。"), headers=auth())
    assert answer.status_code == 422 and [f["field"] for f in answer.json()["error"]["fields"]] == ["address"]


async def test_gmail_spellings_are_one_mailbox_for_lists(api) -> None:
    entry = {"entity": "email", "value": "lina@gmail.com", "kind": "watch", "reason": "farm mailbox"}
    created = await api.post("/v1/lists/entries", json=entry, headers=auth())
    assert created.status_code == 201
    found = await api.get("/v1/lists/entries/email/Li.Na+trial@googlemail.com", headers=auth())
    assert [e["entry_id"] for e in found.json()] == [created.json()["entry_id"]]
    assert "lina" not in created.json()["hint"]  # personal: masked
