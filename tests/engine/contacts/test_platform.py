"""WeCom's monthly group-message quota on real Redis: counted with the caps, in one script."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from engine.contacts import ContactAnswer, ContactGate, WeComMonthly
from engine.model import ContactCap, ContactPolicy

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY, WEEK = 86400, 7 * 86400
#: A cap loose enough that only the platform quota binds (one group message a day at most).
DAILY = ContactPolicy(caps=(ContactCap("group_message", 1, DAY, frozenset()),), quiet_from=time(22), quiet_to=time(8))
FEB_1 = datetime(2026, 2, 1, 10, 0, tzinfo=SHANGHAI)
MARCH_1 = datetime(2026, 3, 1, tzinfo=SHANGHAI)


async def ask(
    gate: ContactGate, tenant: str, at: datetime, policy: ContactPolicy = DAILY, **kw: object
) -> ContactAnswer:
    return await gate.request(
        tenant=tenant,
        customer=str(kw.get("customer", "o_mum1")),
        channel=str(kw.get("channel", "group_message")),
        tier="regular",
        at=at,
        policy=policy,
        zone=SHANGHAI,
    )


async def test_february_allows_28_group_messages_then_refuses_until_1_march(redis_client: Redis, tenant: str) -> None:
    gate = ContactGate(redis_client, platform_limits=[WeComMonthly()])
    for day in range(28):
        assert (await ask(gate, tenant, FEB_1 + timedelta(days=day))).allowed
    refused = await ask(gate, tenant, datetime(2026, 2, 28, 21, 0, tzinfo=SHANGHAI))
    assert (refused.allowed, refused.reason, refused.used, refused.limit) == (False, "platform_limit", 28, 28)
    assert refused.next_allowed_at is not None
    assert refused.next_allowed_at.astimezone(SHANGHAI).isoformat() == "2026-03-01T00:00:00+08:00"
    # 28 Feb 16:30 UTC is already March in Shanghai: a fresh quota; only the daily cap holds it back
    assert (await ask(gate, tenant, datetime(2026, 2, 28, 16, 30, tzinfo=UTC))).reason == "cap"
    assert (await ask(gate, tenant, MARCH_1 + timedelta(hours=10))).allowed


async def test_the_merchants_stricter_monthly_setting_applies(redis_client: Redis, tenant: str) -> None:
    gate = ContactGate(redis_client, platform_limits=[WeComMonthly()])
    strict = ContactPolicy(caps=DAILY.caps, platform_monthly=3)
    for day in range(3):
        assert (await ask(gate, tenant, FEB_1 + timedelta(days=day), strict)).allowed
    refused = await ask(gate, tenant, FEB_1 + timedelta(days=3), strict)
    assert (refused.reason, refused.used, refused.limit, refused.next_allowed_at) == ("platform_limit", 3, 3, MARCH_1)
    # another channel and another customer are not counted against it
    assert (await ask(gate, tenant, FEB_1 + timedelta(days=3), strict, customer="o_mum2")).allowed


async def test_a_refusal_by_the_weekly_cap_does_not_use_up_the_monthly_quota(redis_client: Redis, tenant: str) -> None:
    gate = ContactGate(redis_client, platform_limits=[WeComMonthly()])
    weekly = ContactPolicy(caps=(ContactCap("group_message", 2, WEEK, frozenset()),), platform_monthly=3)
    assert (await ask(gate, tenant, FEB_1, weekly)).allowed
    assert (await ask(gate, tenant, FEB_1 + timedelta(days=1), weekly)).allowed
    for hours in range(1, 6):
        assert (await ask(gate, tenant, FEB_1 + timedelta(days=2, hours=hours), weekly)).reason == "cap"
    third = await ask(gate, tenant, FEB_1 + timedelta(days=7), weekly)
    assert (third.allowed, third.reason) == (True, "ok")
    fourth = await ask(gate, tenant, FEB_1 + timedelta(days=14), weekly)
    assert (fourth.reason, fourth.used, fourth.limit) == ("platform_limit", 3, 3)


async def test_racing_requests_never_exceed_the_monthly_quota(redis_client: Redis, tenant: str) -> None:
    gate = ContactGate(redis_client, platform_limits=[WeComMonthly()])
    loose = ContactPolicy(caps=(ContactCap("group_message", 1000, DAY, frozenset()),), platform_monthly=5)
    answers = await asyncio.gather(*(ask(gate, tenant, FEB_1 + timedelta(seconds=i), loose) for i in range(40)))
    assert sum(a.allowed for a in answers) == 5
    assert {a.reason for a in answers if not a.allowed} == {"platform_limit"}
    history = await gate.history(tenant=tenant, customer="o_mum1")
    assert len(history) == 5
