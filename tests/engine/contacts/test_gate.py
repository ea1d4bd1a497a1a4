"""Contact caps and quiet hours on real Redis, with the shipped pack's policy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis, RedisCluster

from engine.contacts import ContactAnswer, ContactGate
from engine.model import ContactCap, ContactPolicy

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY, WEEK = 86400, 7 * 86400
#: pack.yaml's contacts section: quiet 22:00-08:00, group messages 2 per 7 days,
#: private messages by tier
POLICY = ContactPolicy(
    caps=(
        ContactCap("group_message", 2, WEEK, frozenset()),
        ContactCap("private_message", 1, DAY, frozenset({"important"})),
        ContactCap("private_message", 2, WEEK, frozenset({"regular"})),
        ContactCap("partner_content", 3, 30 * DAY, frozenset()),
    ),
    quiet_from=time(22, 0),
    quiet_to=time(8, 0),
)
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


async def ask(
    gate: ContactGate, tenant: str, at: datetime, channel: str = "group_message", tier: str = "regular", **kw: object
) -> ContactAnswer:
    return await gate.request(
        tenant=tenant,
        customer=str(kw.pop("customer", "o_mum1")),
        channel=channel,
        tier=tier,
        at=at,
        policy=POLICY,
        zone=SHANGHAI,
        record=bool(kw.pop("record", True)),
    )


async def test_third_group_message_in_a_week_is_refused_until_the_first_leaves(
    redis_client: Redis, tenant: str
) -> None:
    gate = ContactGate(redis_client)
    first = await ask(gate, tenant, MONDAY_10)
    second = await ask(gate, tenant, MONDAY_10 + timedelta(days=3, hours=5))
    assert (first.allowed, first.used, first.limit) == (True, 1, 2)
    assert (second.allowed, second.used) == (True, 2)
    third = await ask(gate, tenant, MONDAY_10 + timedelta(days=5))
    assert (third.allowed, third.reason, third.used, third.limit) == (False, "cap", 2, 2)
    assert third.cap == {"channel": "group_message", "limit": 2, "period_seconds": WEEK, "tiers": []}
    assert third.next_allowed_at == MONDAY_10 + timedelta(days=7)
    assert not (await ask(gate, tenant, MONDAY_10 + timedelta(days=7, seconds=-1))).allowed
    assert (await ask(gate, tenant, MONDAY_10 + timedelta(days=7))).allowed
    history = await gate.history(tenant=tenant, customer="o_mum1")
    assert [h.at for h in history] == [
        MONDAY_10 + timedelta(days=7),
        MONDAY_10 + timedelta(days=3, hours=5),
        MONDAY_10,
    ]


async def test_quiet_hours_refuse_until_eight_in_the_morning_shanghai_time(redis_client: Redis, tenant: str) -> None:
    gate = ContactGate(redis_client)
    night = datetime(2026, 11, 23, 22, 30, tzinfo=SHANGHAI)
    answer = await ask(gate, tenant, night)
    assert (answer.allowed, answer.reason) == (False, "quiet_hours")
    assert answer.next_allowed_at == datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI)
    early = await ask(gate, tenant, datetime(2026, 11, 24, 7, 59, tzinfo=SHANGHAI))
    assert early.next_allowed_at == datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI)
    assert await gate.history(tenant=tenant, customer="o_mum1") == [], "a refused contact is not recorded"
    # 22:30 in Shanghai is 14:30 UTC: the pack's zone decides, not the server's
    assert (await ask(gate, tenant, datetime(2026, 11, 24, 0, 30, tzinfo=UTC))).allowed


async def test_a_cap_that_frees_at_night_waits_for_the_morning(redis_client: Redis, tenant: str) -> None:
    gate = ContactGate(redis_client)
    evening = datetime(2026, 11, 23, 21, 30, tzinfo=SHANGHAI)
    await ask(gate, tenant, evening, "private_message", "important")
    refused = await ask(gate, tenant, evening + timedelta(hours=12), "private_message", "important")
    assert (refused.reason, refused.next_allowed_at) == ("cap", evening + timedelta(days=1))
    at_night = await ask(gate, tenant, evening + timedelta(days=1, hours=1), "private_message", "important")
    assert (at_night.reason, at_night.next_allowed_at) == ("quiet_hours", datetime(2026, 11, 25, 8, 0, tzinfo=SHANGHAI))


async def test_caps_follow_the_customers_tier(redis_client: Redis, tenant: str) -> None:
    gate = ContactGate(redis_client)
    important = [
        await ask(gate, tenant, MONDAY_10 + timedelta(days=d), "private_message", "important") for d in range(3)
    ]
    assert [a.allowed for a in important] == [True, True, True], "an advisor may follow up daily"
    regular = [
        await ask(gate, tenant, MONDAY_10 + timedelta(days=d), "private_message", "regular", customer="o_mum2")
        for d in range(3)
    ]
    assert [a.allowed for a in regular] == [True, True, False]
    occasional = await ask(gate, tenant, MONDAY_10, "private_message", "occasional", customer="o_mum3")
    assert (occasional.allowed, occasional.limit) == (True, None), "no cap declared for this tier"


async def test_unknown_channel_is_refused_not_waved_through(redis_client: Redis, tenant: str) -> None:
    answer = await ask(ContactGate(redis_client), tenant, MONDAY_10, "group_mesage")
    assert (answer.allowed, answer.reason) == (False, "unknown_channel")


async def test_asking_without_recording_spends_nothing(redis_client: Redis, tenant: str) -> None:
    gate = ContactGate(redis_client)
    for _ in range(5):
        assert (await ask(gate, tenant, MONDAY_10, record=False)).allowed
    assert await gate.history(tenant=tenant, customer="o_mum1") == []


async def racing_staff(client: Redis | RedisCluster, tenant: str) -> None:
    """Twenty staff press "send" to the same parent group member at once: two messages go out."""
    gate = ContactGate(client)
    answers = await asyncio.gather(*(ask(gate, tenant, MONDAY_10) for _ in range(20)))
    assert sum(a.allowed for a in answers) == 2
    assert {a.next_allowed_at for a in answers if not a.allowed} == {MONDAY_10 + timedelta(days=7)}
    assert len(await gate.history(tenant=tenant, customer="o_mum1")) == 2


async def test_staff_racing_for_the_last_message_cannot_both_send(redis_client: Redis, tenant: str) -> None:
    await racing_staff(redis_client, tenant)


@pytest.mark.cluster
async def test_staff_racing_on_the_cluster(redis_cluster_client: RedisCluster, tenant: str) -> None:
    await racing_staff(redis_cluster_client, tenant)
