"""Reversible budgets over HTTP: reserve at checkout, commit on payment, release on cancel,
refund or lapse; exact counts under racing reservations, payments, refunds and expiries."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import RedisCluster

from tests.api.conftest import MakeApi, auth, event
from tests.api.offers.conftest import OFFERS_PACK


async def checkout(api: httpx.AsyncClient, customer: str | None = None, **fields: Any) -> dict[str, Any]:
    body = event("order", amount=120, attributes={"checkout": True}, **{k: v for k, v in fields.items() if v})
    if customer:
        body["customer"] = customer
    response = await api.post("/v1/score", json=body, headers=auth())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def outcome(api: httpx.AsyncClient, type_: str, customer: str, **fields: Any) -> dict[str, Any]:
    response = await api.post("/v1/events", json=event(type_, customer=customer, **fields), headers=auth())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def coupon_counts(api: httpx.AsyncClient) -> dict[str, Any]:
    report = (await api.get("/v1/reports/offers", headers=auth())).json()
    return next(row for row in report["offers"] if row["offer"] == "checkout_coupon")


async def test_reserved_at_checkout_committed_by_payment_released_by_refund(offers_api: httpx.AsyncClient) -> None:
    body = await checkout(offers_api)
    customer = body["event_id"] and body["offers"][0]["beneficiary"]
    reserved = body["offers"][0]
    assert reserved["status"] == "reserved" and reserved["expires_at"] and reserved["remaining"] == 49
    paid = await outcome(offers_api, "order_paid", customer, amount=105)
    assert [(r["offer"], r["status"]) for r in paid["reservations"]] == [("checkout_coupon", "committed")]
    assert (await checkout(offers_api, customer))["offers"] == []  # per-customer cap still spent
    refund = event("refund", customer=customer)
    first = (await offers_api.post("/v1/events", json=refund, headers=auth())).json()
    assert [r["status"] for r in first["reservations"]] == ["refunded"]
    retry = await offers_api.post("/v1/events", json=refund, headers=auth())
    assert retry.headers.get("Idempotent-Replayed") == "true" and retry.json() == first
    assert (await outcome(offers_api, "refund", customer))["reservations"] == []  # a second refund: nothing left
    counts = await coupon_counts(offers_api)
    assert (counts["used"], counts["remaining"], counts["committed"], counts["refunded"]) == (0, 50, 0, 1)
    again = await checkout(offers_api, customer)  # the unit went back to the customer's cap too
    assert again["offers"][0]["status"] == "reserved"


async def test_cancel_before_payment_and_an_unpaid_checkout_lapse_by_themselves(
    timed_offers_api: httpx.AsyncClient,
) -> None:
    cancelled = await checkout(timed_offers_api)
    moved = await outcome(timed_offers_api, "order_cancelled", cancelled["offers"][0]["beneficiary"])
    assert [r["status"] for r in moved["reservations"]] == ["cancelled"]
    stale = (datetime.now(UTC) - timedelta(minutes=10) + timedelta(seconds=2)).isoformat()
    abandoned = await checkout(timed_offers_api, timestamp=stale)
    assert abandoned["offers"][0]["status"] == "reserved"  # ends 2 s from now (one already ended is too_late)
    await asyncio.sleep(2.5)
    counts = await coupon_counts(timed_offers_api)  # read after the 10-minute TTL: released lazily
    assert (counts["used"], counts["reserved"], counts["cancelled"], counts["lapsed"]) == (0, 0, 1, 1)
    late = await outcome(timed_offers_api, "order_paid", abandoned["offers"][0]["beneficiary"])
    assert late["reservations"] == []  # too late: nothing to commit


async def race(api: httpx.AsyncClient, *, customers: int, seed: int) -> None:
    """Reservations, payments, cancels, refunds and expiries racing; then the counts must add up."""
    rng = random.Random(seed)
    stale = (datetime.now(UTC) - timedelta(minutes=10) + timedelta(seconds=2)).isoformat()
    first = await asyncio.gather(
        *(checkout(api, f"r{i}", timestamp=stale if i % 5 == 0 else None) for i in range(customers))
    )
    lapse_at = datetime.fromisoformat(stale) + timedelta(minutes=10)
    await asyncio.sleep(max(0.0, (lapse_at - datetime.now(UTC)).total_seconds()))  # the stale ones have lapsed
    holders = [b["offers"][0]["beneficiary"] for b in first if b["offers"]]
    # 限量: 50 at a time; stale checkouts lapse lazily during the race and their units are re-granted
    assert 50 <= len(holders) <= 50 + customers // 5
    fates = {c: rng.choice(["pay", "cancel", "pay_refund", "leave"]) for c in holders}

    async def follow(customer: str) -> None:
        fate = fates[customer]
        if fate in ("pay", "pay_refund"):
            await outcome(api, "order_paid", customer)
        if fate == "cancel":
            await outcome(api, "order_cancelled", customer)
        if fate == "pay_refund":
            await asyncio.gather(outcome(api, "refund", customer), outcome(api, "refund", customer))

    late = [checkout(api, f"late{i}") for i in range(customers)]
    expiry = api.get("/v1/reports/offers", headers=auth())  # lazily lapses the stale checkouts meanwhile
    replies = await asyncio.gather(*(follow(c) for c in holders), *late, expiry)
    late_granted = sum(1 for r in replies if isinstance(r, dict) and r.get("offers"))
    counts = await coupon_counts(api)
    granted_total = len(holders) + late_granted
    assert counts["used"] == counts["reserved"] + counts["committed"]
    assert counts["remaining"] == 50 - counts["used"] >= 0
    settled = counts["committed"] + counts["cancelled"] + counts["refunded"] + counts["lapsed"] + counts["reserved"]
    assert settled == granted_total
    # checkouts within their TTL settle exactly as their outcomes say; stale ones may lapse first
    fresh = {c: f for c, f in fates.items() if int(c[1:]) % 5}
    stale = {c: f for c, f in fates.items() if not int(c[1:]) % 5}

    def count(fates: dict[str, str], fate: str) -> int:
        return sum(1 for f in fates.values() if f == fate)

    assert count(fresh, "pay") <= counts["committed"] <= count(fresh, "pay") + count(stale, "pay")
    assert count(fresh, "pay_refund") <= counts["refunded"] <= count(fresh, "pay_refund") + count(stale, "pay_refund")
    assert counts["cancelled"] >= count(fresh, "cancel")
    assert counts["lapsed"] >= count(stale, "leave")


async def test_racing_reservations_commits_refunds_and_expiries_add_up(timed_offers_api: httpx.AsyncClient) -> None:
    await race(timed_offers_api, customers=80, seed=7)


@pytest.mark.cluster
async def test_the_same_race_on_the_cluster(
    make_api: MakeApi, redis_cluster_client: RedisCluster, redis_cluster: Any
) -> None:
    # generous timeout: 160 racers on a 3-node cluster on a loaded 2-core CI box (a timeout is a 503, not a bug)
    cluster = {"redis_url": redis_cluster.url, "redis_cluster": True}
    async with make_api(rules_path=OFFERS_PACK, redis_timeout_s=10, trust_event_time=True, **cluster) as api:
        await race(api, customers=80, seed=11)
