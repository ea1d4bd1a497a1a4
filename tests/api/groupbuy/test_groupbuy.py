"""Group-buy (拼团) through the API: joins scored for risk, completion, limits, and the deadline
closing a group through the worker (failed with refunds flagged, or virtual completion)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis

from engine.scheduler.queue import DueQueue
from engine.scheduler.run import build_worker
from tests.api.conftest import auth, event
from tests.api.offers.conftest import offers_api as offers_api
from tests.api.offers.conftest import timed_offers_api as timed_offers_api


def join(customer: str, **fields: Any) -> dict[str, Any]:
    return event("group_buy_join", customer=customer, amount=99, **fields)


async def open_group(api: httpx.AsyncClient, offer: str, customer: str, **fields: Any) -> dict[str, Any]:
    response = await api.post("/v1/groupbuys", json={"offer": offer, "join": join(customer, **fields)}, headers=auth())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def join_group(api: httpx.AsyncClient, group_id: str, customer: str, **fields: Any) -> dict[str, Any]:
    response = await api.post(f"/v1/groupbuys/{group_id}/join", json={"join": join(customer, **fields)}, headers=auth())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_group_completes_when_full_and_refuses_risky_and_late_joins(offers_api: httpx.AsyncClient) -> None:
    opened = await open_group(offers_api, "trial_group", "mum1")
    assert opened["outcome"] == "open" and opened["decision"] == "allow"
    group_id = opened["group"]["group_id"]
    risky = await join_group(offers_api, group_id, "mum2", phone="17012345678")
    assert (risky["outcome"], risky["reason"], risky["decision"]) == ("refused", "risk", "review")
    assert (await join_group(offers_api, group_id, "mum2"))["group"]["state"] == "open"
    again = await join_group(offers_api, group_id, "mum2")
    assert again["outcome"] == "member"  # a retried join changes nothing
    full = await join_group(offers_api, group_id, "mum3")
    assert full["outcome"] == "joined" and full["group"]["state"] == "completed"
    late = await join_group(offers_api, group_id, "mum4")
    assert (late["outcome"], late["reason"]) == ("refused", "completed")
    second = await open_group(offers_api, "trial_group", "mum1")  # per_customer: 1
    assert (second["outcome"], second["reason"]) == ("refused", "customer_limit")


async def test_total_groups_limit(offers_api: httpx.AsyncClient) -> None:
    answers = [await open_group(offers_api, "trial_group", f"leader{i}") for i in range(6)]
    assert [a["outcome"] for a in answers] == ["open"] * 5 + ["refused"]
    assert answers[-1]["reason"] == "total_limit"


async def test_deadline_fails_a_group_and_flags_refunds_or_completes_it_virtually(
    timed_offers_api: httpx.AsyncClient, redis_client: Redis
) -> None:
    past = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    strict = await open_group(timed_offers_api, "strict_group", "dad1", timestamp=past)
    virtual = await open_group(timed_offers_api, "trial_group", "dad2", timestamp=past)
    await join_group(timed_offers_api, virtual["group"]["group_id"], "dad3", timestamp=past)
    worker = build_worker(redis_client)
    assert await worker.run_once(DueQueue(redis_client, "alpha")) == 2
    assert worker.fired == 2
    failed = (await timed_offers_api.get(f"/v1/groupbuys/{strict['group']['group_id']}", headers=auth())).json()
    assert failed["state"] == "failed" and [m["payment"] for m in failed["members"]] == ["refund_due"]
    done = (await timed_offers_api.get(f"/v1/groupbuys/{virtual['group']['group_id']}", headers=auth())).json()
    assert done["state"] == "virtual" and [m["payment"] for m in done["members"]] == ["paid", "paid"]
    assert await worker.run_once(DueQueue(redis_client, "alpha")) == 0  # fired once, never again
    missing = await timed_offers_api.get("/v1/groupbuys/trial_group.000000000000", headers=auth())
    assert missing.status_code == 404
