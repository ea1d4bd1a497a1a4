"""The review queue through the ASGI app on the real Redis: the cheap checks of every step.

The HTTP suite (test_review_http.py) runs the stories end to end on a 2-worker server;
these pin each step's answers, including what a caller who controls the body, the path
and the timing can try.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.cases.service import resolve_due
from tests.api.cases.review_pack import write_pack
from tests.api.conftest import ALPHA, ALPHA_SCORE, BETA, MakeApi, auth, event

VIRTUAL = "17012345678"  # a virtual-operator number: the review rule


async def _review(api: httpx.AsyncClient, customer: str, type_: str = "signup", **fields: Any) -> dict[str, Any]:
    body = event(type_, customer=customer, phone=VIRTUAL, **fields)
    response = await api.post("/v1/score", json=body, headers=auth())
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["decision"] == "review", answer
    return answer


async def _case_of(api: httpx.AsyncClient, customer: str, key: str = ALPHA) -> dict[str, Any]:
    page = (await api.get("/v1/cases", params={"customer": customer, "state": "open"}, headers=auth(key))).json()
    assert len(page["cases"]) == 1, page
    case: dict[str, Any] = page["cases"][0]
    return case


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    return write_pack(tmp_path, sla="4h", on_timeout="keep", trial_total=1)


async def test_review_opens_one_case_per_actor_and_approve_grants_the_withheld_trial(
    make_api: MakeApi, pack: Path
) -> None:
    async with make_api(rules_path=pack, webhook_hosts="127.0.0.1") as api:
        await _review(api, "mum-1")
        await _review(api, "mum-1", "coupon_claim")
        case = await _case_of(api, "mum-1")
        assert case["event_count"] == 2 and case["reasons"] == ["virtual_phone"]
        assert case["value_at_stake"] == 99 + 30
        detail = (await api.get(f"/v1/cases/{case['id']}", headers=auth())).json()
        assert [w["offer"] for w in detail["stake"]["withheld"]] == ["trial_99", "newcomer_gift"]
        claimed = await api.post(f"/v1/cases/{case['id']}/claim", headers=auth())
        assert claimed.status_code == 200, claimed.text
        decided = await api.post(f"/v1/cases/{case['id']}/decision", json={"decision": "approve", "note": "real mum"},
                                 headers=auth())  # fmt: skip
        assert decided.status_code == 200, decided.text
        result = decided.json()["result"]
        assert {g["offer"]: g["status"] for g in result["granted"]} == {"trial_99": "granted", "newcomer_gift": "held"}
        again = await api.post(f"/v1/cases/{case['id']}/decision", json={"decision": "approve", "note": "real mum"},
                               headers=auth())  # fmt: skip
        assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["result"] == result
        other = await api.post(f"/v1/cases/{case['id']}/decision", json={"decision": "deny"}, headers=auth())
        assert other.status_code == 409 and other.json()["error"]["code"] == "case_conflict"
        customer = (await api.get("/v1/customers/mum-1", headers=auth())).json()
        assert {o["offer"] for o in customer["offers"]} == {"trial_99", "newcomer_gift"}
        # a new review after the decision opens a new case: the decided one is closed
        await _review(api, "mum-1", "red_packet_claim")
        assert (await _case_of(api, "mum-1"))["id"] != case["id"]


async def test_a_second_reviewer_cannot_claim_or_decide_a_leased_case(make_api: MakeApi, pack: Path) -> None:
    keys = f"{ALPHA}:alpha:score+events+admin,other-admin-key-0123456:alpha:admin"
    async with make_api(rules_path=pack, webhook_hosts="127.0.0.1", api_keys=keys) as api:
        await _review(api, "mum-2")
        case = await _case_of(api, "mum-2")
        first, second = await asyncio.gather(
            api.post(f"/v1/cases/{case['id']}/claim", headers=auth()),
            api.post(f"/v1/cases/{case['id']}/claim", headers=auth("other-admin-key-0123456")),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 409]
        loser = "other-admin-key-0123456" if second.status_code == 409 else ALPHA
        refused = await api.post(f"/v1/cases/{case['id']}/decision", json={"decision": "deny"}, headers=auth(loser))
        assert refused.status_code == 409 and refused.json()["error"]["claimed_by"]


async def test_the_queue_is_the_tenants_own_and_needs_the_reviewer_scope(make_api: MakeApi, pack: Path) -> None:
    async with make_api(rules_path=pack, webhook_hosts="127.0.0.1") as api:
        await _review(api, "mum-3")
        case = await _case_of(api, "mum-3")
        assert (await api.get(f"/v1/cases/{case['id']}", headers=auth(BETA))).status_code == 404
        assert (await api.post(f"/v1/cases/{case['id']}/decision", json={"decision": "deny"},
                               headers=auth(BETA))).status_code == 404  # fmt: skip
        assert (await api.get("/v1/cases", headers=auth(ALPHA_SCORE))).status_code == 403
        bad = await api.post(f"/v1/cases/{case['id']}/decision", json={"decision": "delete"}, headers=auth())
        assert bad.status_code == 422 and "decision" in bad.text
        assert (await api.get("/v1/cases", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=auth())).status_code == 422
        assert (await api.get("/v1/cases/c_0123456789abcdef01", headers=auth())).status_code == 404
        assert (await api.get("/v1/cases/c_nope", headers=auth())).status_code == 422


async def test_a_timeout_decides_once_even_with_two_workers_racing(make_api: MakeApi, tmp_path: Path) -> None:
    pack = write_pack(tmp_path, sla="1s", on_timeout="deny")
    async with make_api(rules_path=pack, webhook_hosts="127.0.0.1") as api:
        await _review(api, "farm-9", "coupon_claim")
        case = await _case_of(api, "farm-9")
        await asyncio.sleep(1.2)
        runtime = api.app.state.runtime  # type: ignore[attr-defined]
        counts = await asyncio.gather(*(resolve_due(runtime, "alpha") for _ in range(4)))
        assert sum(counts) == 1
        detail = (await api.get(f"/v1/cases/{case['id']}", headers=auth())).json()
        assert detail["state"] == "denied" and detail["decided_via"] == "timeout"
        assert [e["action"] for e in detail["log"]] == ["deny"]
        lists = (await api.get("/v1/customers/farm-9", headers=auth())).json()["lists"]
        assert {e["kind"] for e in lists} == {"block", "watch"}
