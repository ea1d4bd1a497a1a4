"""Red team, session 11: the ``denied_at_checkout`` claw-back attacked over real HTTP by a caller who controls
every byte and the timing.

Tried and held: 50 concurrent copies of one denied order (one event id) void the payer's hold once, write its
history once and answer every copy with the same decision; the same denied order replayed under new event ids
voids nothing more and writes no second clawback for a reward (each copy renews the payer's and the wallet's
watch and says so in the history, as any new denied checkout does). Left open (SECURITY.md): made-up wallet tokens
lifting 1204's exemption, a claim naming a group with no packet on record.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.cases.review_pack import ENV, write_pack
from tests.api.conftest import auth, event
from tests.api.serving import yutang_serve

WALLET = "wx-redteam-wallet"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("redteam11")
    with yutang_serve(root, rules=write_pack(root, trial_total=50), workers=2, env=ENV) as (url, _):
        yield url


@pytest.fixture
def client(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=30) as http:
        yield http


def post(client: httpx.Client, route: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(route, json=body, headers=auth())
    assert response.status_code == 200, response.text
    return dict(response.json())


def view(client: httpx.Client, customer: str) -> dict[str, Any]:
    return dict(client.get(f"/v1/customers/{customer}", headers=auth()).json())


def farm_up_to_the_denied_checkout(client: httpx.Client, prefix: str) -> tuple[list[str], dict[str, Any]]:
    """Three accounts each hold a gift; the first two pay from one wallet; the third's order is the denied one."""
    farm = [f"{prefix}-{i}" for i in range(3)]
    for index, account in enumerate(farm):
        claim = post(client, "/v1/score", event("coupon_claim", customer=account, device=f"{prefix}-phone-{index}"))
        assert claim["offers"][0]["status"] == "held", claim
    for account in farm[:2]:
        body = event("order", customer=account, amount=30, payment=f"{WALLET}-{prefix}")
        assert post(client, "/v1/score", body)["decision"] == "allow"
    return farm, event("order", customer=farm[2], amount=30, payment=f"{WALLET}-{prefix}")


def test_fifty_concurrent_copies_of_one_denied_order_void_and_record_once(client: httpx.Client) -> None:
    farm, denied = farm_up_to_the_denied_checkout(client, "race11")
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: client.post("/v1/score", json=denied, headers=auth()), range(50)))
    assert {a.status_code for a in answers} <= {200, 409}, {a.status_code for a in answers}
    decisions = {a.json()["decision"] for a in answers if a.status_code == 200}
    assert decisions == {"deny"}, decisions
    payer = view(client, farm[2])
    assert [o["status"] for o in payer["offers"]] == ["voided"]
    steps = [(e["cause"], e["cause_event"], e["action"]) for e in payer["late_evidence"]]
    assert {cause for cause, _, _ in steps} == {"denied_at_checkout"}
    assert len(steps) == len(set(steps)), steps  # each step written once, not once per copy


def test_a_denied_order_replayed_under_new_event_ids_moves_nothing_more(client: httpx.Client) -> None:
    farm, denied = farm_up_to_the_denied_checkout(client, "again11")
    assert post(client, "/v1/score", denied)["decision"] == "deny"
    first = view(client, farm[2])
    for copy in range(5):
        again = {**denied, "event_id": f"{denied['event_id']}-copy{copy}"}
        assert post(client, "/v1/score", again)["decision"] == "deny"
    later = view(client, farm[2])
    actions = [e["action"] for e in later["late_evidence"]]
    assert actions.count("voided") == 1, actions  # a copy only renews the watches (a new denied checkout)
    assert [o["status"] for o in later["offers"]] == ["voided"]
    assert later["clawbacks"] == first["clawbacks"]  # no second clawback of one reward
    assert [h["hold_id"] for h in later.get("holds", [])] == [h["hold_id"] for h in first.get("holds", [])]
