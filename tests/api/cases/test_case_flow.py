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
from redis.asyncio import Redis

from api.cases.service import resolve_due
from tests.api.cases.review_pack import write_pack
from tests.api.conftest import ALPHA, ALPHA_SCORE, BETA, MakeApi, auth, event

VIRTUAL = "17012345678"  # a virtual-operator number: the review rule
#: Redis timeout of these apps: the races here are the queue's, not a 500 ms timeout on a box shared by eight suites
LOADED_BOX_TIMEOUT_S = 5.0


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
def pack(tmp_path: Path, redis_client: Redis) -> Path:
    """The review pack on an emptied Redis (its offers' budgets are the tenant's, not the test's)."""
    return write_pack(tmp_path, sla="4h", on_timeout="keep", trial_total=1)


async def test_review_opens_one_case_per_actor_and_approve_grants_the_withheld_trial(
    make_api: MakeApi, pack: Path
) -> None:
    async with make_api(rules_path=pack, webhook_hosts="127.0.0.1", redis_timeout_s=LOADED_BOX_TIMEOUT_S) as api:
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
    async with make_api(
        rules_path=pack, webhook_hosts="127.0.0.1", redis_timeout_s=LOADED_BOX_TIMEOUT_S, api_keys=keys
    ) as api:
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
    async with make_api(rules_path=pack, webhook_hosts="127.0.0.1", redis_timeout_s=LOADED_BOX_TIMEOUT_S) as api:
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


async def test_a_timeout_decides_once_even_with_four_workers_racing(
    make_api: MakeApi, tmp_path: Path, redis_client: Redis
) -> None:
    pack = write_pack(tmp_path, sla="1s", on_timeout="deny")
    async with make_api(rules_path=pack, webhook_hosts="127.0.0.1", redis_timeout_s=LOADED_BOX_TIMEOUT_S) as api:
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


async def test_racing_decisions_grant_once_and_one_outcome_wins(make_api: MakeApi, pack: Path) -> None:
    async with make_api(rules_path=pack, webhook_hosts="127.0.0.1", redis_timeout_s=LOADED_BOX_TIMEOUT_S) as api:
        first = await _review(api, "racer-1")
        retry = await api.post("/v1/score", json={**event("signup", customer="racer-1", phone=VIRTUAL),
                                                  "event_id": first["event_id"]}, headers=auth())  # fmt: skip
        assert retry.status_code in (200, 409)
        case = await _case_of(api, "racer-1")
        assert case["event_count"] == 1  # a retried review event joins its case once
        url = f"/v1/cases/{case['id']}/decision"
        approvals = await asyncio.gather(
            *(api.post(url, json={"decision": "approve"}, headers=auth()) for _ in range(5))
        )
        assert {r.status_code for r in approvals} == {200}
        assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in approvals) == 1
        assert {len(r.json()["result"]["granted"]) for r in approvals if r.json()["result"]} == {1}
        budgets = (await api.get("/v1/reports/offers", headers=auth())).json()["offers"]
        assert next(o for o in budgets if o["offer"] == "trial_99")["used"] == 1  # the trial's one unit, once
        await _review(api, "racer-2")
        other = await _case_of(api, "racer-2")
        url = f"/v1/cases/{other['id']}/decision"
        both = await asyncio.gather(api.post(url, json={"decision": "approve"}, headers=auth()),
                                    api.post(url, json={"decision": "deny"}, headers=auth()))  # fmt: skip
        assert sorted(r.status_code for r in both) == [200, 409]


async def test_a_caller_cannot_claw_back_or_void_someone_elses_rewards(make_api: MakeApi, pack: Path) -> None:
    async with make_api(rules_path=pack, webhook_hosts="127.0.0.1", redis_timeout_s=LOADED_BOX_TIMEOUT_S) as api:
        invited = await api.post("/v1/score", json=event("referral", customer="friend", referrer="honest-mum"),
                                 headers=auth())  # fmt: skip
        assert invited.json()["offers"][0]["status"] == "held"
        paid = await api.post("/v1/events", json=event("order_paid", customer="friend", attributes={"order_id": "o-7"}),
                              headers=auth())  # fmt: skip
        assert [h["status"] for h in paid.json()["holds"]] == ["released"]
        # another customer "refunds" the friend's order: it released nothing of theirs
        fake = await api.post("/v1/events", json=event("refund", customer="stranger", attributes={"order_id": "o-7"}),
                              headers=auth())  # fmt: skip
        assert "late_evidence" not in fake.json()
        # a farm account pays to the honest mother's address: nobody is labelled there, nothing happens to anyone
        await api.post("/v1/score", json=event("coupon_claim", customer="farm-z"), headers=auth())
        sent = await api.post("/v1/events", json=event("order_paid", customer="farm-z", address="honest mum's flat"),
                              headers=auth())  # fmt: skip
        assert "late_evidence" not in sent.json()
        view = (await api.get("/v1/customers/honest-mum", headers=auth())).json()
        assert view["clawbacks"] == [] and view["lists"] == []
        assert [o["status"] for o in view["offers"]] == ["released"]
