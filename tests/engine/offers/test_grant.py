"""Granting offers on real Redis: budgets never overspent, caps, fall-backs, retries."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import ConnectionPool, Redis, RedisCluster

from engine.events import Event
from engine.model import Offer
from engine.offers import Grant, OfferLedger

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=SHANGHAI)

MakeOffer = Callable[..., Offer]
MakeEvent = Callable[..., Event]


def statuses(grants: Sequence[Grant]) -> list[tuple[str, str]]:
    return [(g.offer_id, g.status) for g in grants]


def separate_clients(client: Redis, count: int) -> list[Redis]:
    """Clients with their own connection pools, as separate API workers would have."""
    pool = client.connection_pool
    return [
        Redis.from_pool(ConnectionPool(connection_class=pool.connection_class, **pool.connection_kwargs))
        for _ in range(count)
    ]


async def race_for_last_units(
    client: Any, ledgers: list[OfferLedger], tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    """950 of 1,000 units are spent; 200 customers race for the last 50."""
    red_packet = offer("red_packet_rain", total=1000, per_customer=1)
    ledger = OfferLedger(client)
    first = [event("red_packet_claim", f"early{i}", NOON) for i in range(950)]
    for chunk in range(0, 950, 38):
        await asyncio.gather(
            *(
                ledger.grant(tenant=tenant, event=e, evaluation_offers=[red_packet], zone=SHANGHAI)
                for e in first[chunk : chunk + 38]
            )
        )
    racers = [event("red_packet_claim", f"racer{i}", NOON + timedelta(seconds=1)) for i in range(200)]
    results = await asyncio.gather(
        *(
            ledgers[i % len(ledgers)].grant(tenant=tenant, event=e, evaluation_offers=[red_packet], zone=SHANGHAI)
            for i, e in enumerate(racers)
        )
    )
    outcome = Counter(grants[0].status for grants in results)
    assert outcome == {"granted": 50, "exhausted": 150}
    remaining = sorted(grants[0].remaining_total for grants in results if grants[0].granted)
    assert remaining == list(range(50)), "every granted unit is a distinct one of the last 50"
    state = (await ledger.budgets(tenant=tenant, offers=[red_packet], zone=SHANGHAI, now=NOON))["red_packet_rain"]
    assert (state.used, state.remaining, state.granted, state.today) == (1000, 0, 1000, 1000)


async def test_200_racers_for_the_last_50_units_get_exactly_50(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    clients = separate_clients(redis_client, 8)
    try:
        await race_for_last_units(redis_client, [OfferLedger(c) for c in clients], tenant, offer, event)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


@pytest.mark.cluster
async def test_200_racers_for_the_last_50_units_on_the_cluster(
    redis_cluster: Any, redis_cluster_client: RedisCluster, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    clients = [RedisCluster(startup_nodes=redis_cluster.nodes()) for _ in range(4)]
    await asyncio.gather(*(c.initialize() for c in clients))  # as open_redis does before serving
    try:
        await race_for_last_units(redis_cluster_client, [OfferLedger(c) for c in clients], tenant, offer, event)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


async def test_one_customer_racing_itself_gets_only_its_per_customer_cap(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    coupon = offer("newcomer_gift", total=2000, per_customer=3)
    ledger = OfferLedger(redis_client)
    claims = [event("coupon_claim", "o_farm1", NOON) for _ in range(30)]
    results = await asyncio.gather(
        *(ledger.grant(tenant=tenant, event=e, evaluation_offers=[coupon], zone=SHANGHAI) for e in claims)
    )
    assert Counter(r[0].status for r in results) == {"granted": 3, "customer_cap": 27}
    other = await ledger.grant(
        tenant=tenant, event=event("coupon_claim", "o_mum1", NOON), evaluation_offers=[coupon], zone=SHANGHAI
    )
    assert statuses(other) == [("newcomer_gift", "granted")]
    assert other[0].remaining_total == 2000 - 4


async def test_daily_cap_counts_days_in_the_packs_time_zone(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    trial = offer("trial_99", total=500, per_day=5)
    ledger = OfferLedger(redis_client)
    late = datetime(2026, 11, 25, 23, 30, tzinfo=SHANGHAI)  # 15:30 UTC
    results = await asyncio.gather(
        *(
            ledger.grant(tenant=tenant, event=event("signup", f"p{i}", late), evaluation_offers=[trial], zone=SHANGHAI)
            for i in range(20)
        )
    )
    assert Counter(r[0].status for r in results) == {"granted": 5, "daily_cap": 15}
    # 00:10 in Shanghai is a new day for the merchant, although still 25 Nov in UTC
    after_midnight = datetime(2026, 11, 26, 0, 10, tzinfo=SHANGHAI)
    assert after_midnight.astimezone(ZoneInfo("UTC")).day == 25
    next_day = await ledger.grant(
        tenant=tenant, event=event("signup", "p_next", after_midnight), evaluation_offers=[trial], zone=SHANGHAI
    )
    assert statuses(next_day) == [("trial_99", "granted")]
    state = (await ledger.budgets(tenant=tenant, offers=[trial], zone=SHANGHAI, now=after_midnight))["trial_99"]
    assert (state.today, state.used, state.remaining) == (1, 6, 494)


async def test_exhausted_best_offer_falls_back_to_the_next_of_its_group(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    rain = offer("red_packet_rain", total=1, group="red_packet", priority=20)
    weekly = offer("red_packet_weekly", total=5000, group="red_packet", priority=10)
    points = offer("order_points")  # not grouped, unlimited: always granted alongside
    ledger = OfferLedger(redis_client)
    eligible = [rain, weekly, points]
    first = await ledger.grant(
        tenant=tenant, event=event("red_packet_claim", "o_mum1", NOON), evaluation_offers=eligible, zone=SHANGHAI
    )
    assert statuses(first) == [("red_packet_rain", "granted"), ("order_points", "granted")]
    second = await ledger.grant(
        tenant=tenant, event=event("red_packet_claim", "o_mum2", NOON), evaluation_offers=eligible, zone=SHANGHAI
    )
    assert statuses(second) == [
        ("red_packet_rain", "exhausted"),
        ("red_packet_weekly", "granted"),
        ("order_points", "granted"),
    ]
    assert [g.remaining_total for g in second] == [0, 4999, None]


async def test_whole_group_refused_grants_nothing_of_it(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    trial = offer("trial_99", per_customer=1, group="entry_offer", priority=10)
    gift = offer("newcomer_gift", per_customer=1, group="entry_offer", priority=5)
    ledger = OfferLedger(redis_client)
    for _ in range(2):
        await ledger.grant(
            tenant=tenant, event=event("signup", "o_new4", NOON), evaluation_offers=[trial, gift], zone=SHANGHAI
        )
    third = await ledger.grant(
        tenant=tenant, event=event("signup", "o_new4", NOON), evaluation_offers=[trial, gift], zone=SHANGHAI
    )
    assert statuses(third) == [("trial_99", "customer_cap"), ("newcomer_gift", "customer_cap")]


async def test_retried_event_returns_the_same_grants_and_spends_no_second_unit(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    rain = offer("red_packet_rain", total=1, group="red_packet", priority=20)
    weekly = offer("red_packet_weekly", total=10, per_customer=1, group="red_packet", priority=10)
    ledger = OfferLedger(redis_client)
    await ledger.grant(
        tenant=tenant, event=event("red_packet_claim", "o_mum1", NOON), evaluation_offers=[rain, weekly], zone=SHANGHAI
    )
    claim = event("red_packet_claim", "o_mum2", NOON, event_id="evt-retry-1")
    first = await ledger.grant(tenant=tenant, event=claim, evaluation_offers=[rain, weekly], zone=SHANGHAI)
    retries = await asyncio.gather(
        *(ledger.grant(tenant=tenant, event=claim, evaluation_offers=[rain, weekly], zone=SHANGHAI) for _ in range(10))
    )
    assert all(r == first for r in retries)
    assert statuses(first) == [("red_packet_rain", "exhausted"), ("red_packet_weekly", "granted")]
    state = await ledger.budgets(tenant=tenant, offers=[weekly], zone=SHANGHAI, now=NOON)
    assert state["red_packet_weekly"].used == 1
    history = await ledger.customer_grants(tenant=tenant, customer="o_mum2")
    assert [(g.offer_id, g.event_id, g.status) for g in history] == [("red_packet_weekly", "evt-retry-1", "granted")]


async def test_duplicate_deliveries_racing_each_other_spend_one_unit(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    coupon = offer("season_reshoot_coupon", total=200, per_customer=5)
    ledger = OfferLedger(redis_client)
    claim = event("coupon_claim", "o_mum2", NOON, event_id="evt-dup")
    results = await asyncio.gather(
        *(ledger.grant(tenant=tenant, event=claim, evaluation_offers=[coupon], zone=SHANGHAI) for _ in range(25))
    )
    assert {tuple(statuses(r)) for r in results} == {(("season_reshoot_coupon", "granted"),)}
    assert {r[0].remaining_total for r in results} == {199}


async def test_referrer_reward_goes_to_the_referrer_and_needs_one(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    reward = offer("referral_reward", total=1000, per_customer=1, beneficiary="referrer")
    ledger = OfferLedger(redis_client)
    invited = await ledger.grant(
        tenant=tenant,
        event=event("referral", "o_friend1", NOON, referrer="o_mum1"),
        evaluation_offers=[reward],
        zone=SHANGHAI,
    )
    assert [(g.status, g.beneficiary_id) for g in invited] == [("granted", "o_mum1")]
    second = await ledger.grant(
        tenant=tenant,
        event=event("referral", "o_friend2", NOON, referrer="o_mum1"),
        evaluation_offers=[reward],
        zone=SHANGHAI,
    )
    assert [(g.status, g.beneficiary_id) for g in second] == [("customer_cap", "o_mum1")]
    alone = await ledger.grant(
        tenant=tenant, event=event("referral", "o_friend3", NOON), evaluation_offers=[reward], zone=SHANGHAI
    )
    assert statuses(alone) == [("referral_reward", "no_beneficiary")]
    assert [g.offer_id for g in await ledger.customer_grants(tenant=tenant, customer="o_mum1")] == ["referral_reward"]
    assert await ledger.customer_grants(tenant=tenant, customer="o_friend1") == []


async def test_tenants_never_share_a_budget(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    trial = offer("trial_99", total=1)
    ledger = OfferLedger(redis_client)
    mine = await ledger.grant(
        tenant=tenant, event=event("signup", "c1", NOON), evaluation_offers=[trial], zone=SHANGHAI
    )
    theirs = await ledger.grant(
        tenant=tenant + "x", event=event("signup", "c1", NOON), evaluation_offers=[trial], zone=SHANGHAI
    )
    assert statuses(mine) == statuses(theirs) == [("trial_99", "granted")]


async def test_customer_grants_lists_newest_first(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    ledger = OfferLedger(redis_client)
    for day, offer_id in enumerate(["trial_99", "package_upsell", "topup_8000"]):
        await ledger.grant(
            tenant=tenant,
            event=event("order", "o_parent1", NOON + timedelta(days=day)),
            evaluation_offers=[offer(offer_id, per_customer=1)],
            zone=SHANGHAI,
        )
    history = await ledger.customer_grants(tenant=tenant, customer="o_parent1", limit=2)
    assert [(g.offer_id, g.at) for g in history] == [
        ("topup_8000", NOON + timedelta(days=2)),
        ("package_upsell", NOON + timedelta(days=1)),
    ]


async def test_a_days_counter_outlives_its_day_for_reporting_then_goes(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    """The per-day counter gets its TTL with its first grant: every grant counts, and the counter still expires.

    Its TTL is set once, when the day's first unit creates it, not renewed by each grant:
    from the first grant it outlives the merchant's day by the 8-day TTL less the day.
    """
    trial = offer("trial_99", total=500, per_day=50)
    ledger = OfferLedger(redis_client)
    for i in range(6):
        got = await ledger.grant(tenant=tenant, event=event("signup", f"d{i}", NOON), evaluation_offers=[trial],
                                 zone=SHANGHAI)  # fmt: skip
        assert statuses(got) == [("trial_99", "granted")]
    counters = [k async for k in redis_client.scan_iter(match=f"*{tenant}*:day:2026-11-25")]
    assert len(counters) == 1
    assert int(await redis_client.get(counters[0])) == 6
    assert 7 * 86400 < await redis_client.ttl(counters[0]) <= 8 * 86400
    state = (await ledger.budgets(tenant=tenant, offers=[trial], zone=SHANGHAI, now=NOON))["trial_99"]
    assert (state.today, state.used) == (6, 6)
