"""刷单 before the refunds: a referrer that gains payers without being a customer, on the real store.

Events go through ``FeatureStore.record_and_read`` / ``record_outcome`` on a real Redis (one
server, and the local cluster where the referrer's and the payer's slots differ), then the
shipped pack decides, as replay and the API do. The attacks first: a caller who controls the
body of a scored event trying to make a farm's referrer look like a customer (an ``order``
naming it, a referral naming it as the invitee, an ``order_paid`` that names it as referrer).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from feature_backends import Backend
from redis.asyncio import Redis

from engine.evaluation import Evaluation
from tests.engine.features.pack_world import World as PackWorld

DAY0 = datetime.fromisoformat("2026-11-01T10:00:00+08:00")
PAID = "referrer.days_since_paid"
QUICK, OUTSIDER = "unpaid_referrer_quick_payers", "unpaid_referrer_outsider"
LOCAL, OUTSIDE = "1391111", "1351234"  # a Beijing block; a Shanghai one (outside 北京, 天津, 河北)


class World(PackWorld):
    """One tenant's store and the shipped pack: each customer on its own device and line unless told."""

    def fields(self, fields: dict[str, object]) -> dict[str, object]:
        n = self.sent
        fields.setdefault("device", f"dv-{fields['customer']}")
        # a line in the studio's city (ip2region: 123.112.0.0/13 is Beijing), its own /24 per event
        fields.setdefault("ip", f"123.{112 + n % 8}.{n % 250}.{10 + n % 200}")
        if "phone" in fields:  # each customer its own number in the block
            fields["phone"] = f"{fields['phone']}{sum(map(ord, str(fields['customer']))) % 10_000:04d}"
        return fields

    async def invite(self, referrer: str, friend: str, at: datetime, phone: str = LOCAL) -> Evaluation:
        evaluation = await self.send(type="referral", customer=friend, referrer=referrer, phone=phone, timestamp=at)
        assert evaluation is not None
        return evaluation

    async def orders(self, customer: str, at: datetime, phone: str = LOCAL) -> Evaluation:
        evaluation = await self.send(
            type="order", customer=customer, amount=99, campaign="trial_99", phone=phone, timestamp=at
        )
        assert evaluation is not None
        return evaluation

    async def pays(self, customer: str, at: datetime, **extra: object) -> None:
        await self.send(type="order_paid", customer=customer, amount=99, timestamp=at, **extra)


async def test_a_referrer_that_paid_is_a_customer_and_one_that_never_did_is_missing(
    backend: Backend, tenant: str
) -> None:
    world = World(backend.client, tenant)
    await world.pays("mum", DAY0 - timedelta(days=40))
    await world.pays("mum", DAY0 - timedelta(days=10))  # the latest paid order counts
    await world.invite("mum", "friend1", DAY0)
    assert world.values[PAID] == pytest.approx(10.0)
    await world.invite("organiser-acct", "buyer1", DAY0)
    assert world.values[PAID] is None


async def test_what_a_scoring_caller_sends_never_makes_a_referrer_a_customer(redis_client: Redis, tenant: str) -> None:
    """The attack: orders (an intent, not a payment), referrals and payments that only name the referrer."""
    world = World(redis_client, tenant)
    await world.orders("org-acct", DAY0 - timedelta(days=3))  # the referrer's own order, never paid
    await world.invite("someone", "org-acct", DAY0 - timedelta(days=2))  # the referrer as somebody's invitee
    await world.pays("stooge", DAY0 - timedelta(days=1), referrer="org-acct")  # a payment naming it as referrer
    await world.send(type="refund", customer="org-acct", amount=99, timestamp=DAY0 - timedelta(hours=5))
    await world.invite("org-acct", "buyer1", DAY0)
    assert world.values[PAID] is None


async def test_reading_it_adds_no_call_and_a_paid_order_no_round_trip(redis_client: Redis, tenant: str) -> None:
    world = World(redis_client, tenant)
    await redis_client.config_resetstat()
    await world.pays("walkin", DAY0)  # nobody referred it: one step, as before
    stats = await redis_client.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 1
    await redis_client.config_resetstat()
    await world.invite("walkin", "friend", DAY0 + timedelta(hours=1))
    stats = await redis_client.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 1
    assert world.values[PAID] == pytest.approx(1 / 24)


async def test_an_unpaid_referrers_second_quick_payer_is_reviewed_a_customers_friends_are_not(
    redis_client: Redis, tenant: str
) -> None:
    world = World(redis_client, tenant)
    await world.pays("parent", DAY0 - timedelta(days=20))
    for referrer in ("org-acct", "parent"):
        await world.invite(referrer, f"{referrer}-b1", DAY0)
        await world.pays(f"{referrer}-b1", DAY0 + timedelta(minutes=40))  # pays at once
    hired = await world.invite("org-acct", "org-acct-b2", DAY0 + timedelta(hours=3))
    assert QUICK in hired.rule_ids and hired.decision == "review"
    assert hired.offers == ()  # the trial and the referrer's gift wait for a person
    friend = await world.invite("parent", "parent-b2", DAY0 + timedelta(hours=3))
    assert QUICK not in friend.rule_ids and friend.decision == "allow"


async def test_an_unpaid_referrers_first_invitee_who_has_not_paid_yet_is_not_enough(
    redis_client: Redis, tenant: str
) -> None:
    """A newcomer who shares the poster before her first session: a local friend joins, buys days later."""
    world = World(redis_client, tenant)
    await world.invite("newmum", "friend1", DAY0)
    await world.pays("friend1", DAY0 + timedelta(days=3))
    second = await world.invite("newmum", "friend2", DAY0 + timedelta(days=4))
    assert QUICK not in second.rule_ids and OUTSIDER not in second.rule_ids
    assert second.decision == "allow"


async def test_an_outsider_through_an_unpaid_referrer_is_reviewed_through_a_customer_is_not(
    redis_client: Redis, tenant: str
) -> None:
    world = World(redis_client, tenant)
    await world.pays("aunt", DAY0 - timedelta(days=30))
    hired = await world.invite("org-acct", "buyer1", DAY0, phone=OUTSIDE)
    assert OUTSIDER in hired.rule_ids and hired.decision == "review"
    cousin = await world.invite("aunt", "cousin", DAY0, phone=OUTSIDE)  # a relative with a number from home
    assert OUTSIDER not in cousin.rule_ids and cousin.decision == "allow"


UNPAID = "customer.hours_since_unpaid_referral"
AT_ONCE_UNPAID = "unpaid_referral_pays_at_once"


async def test_what_the_referral_knew_reaches_the_buyers_own_order(backend: Backend, tenant: str) -> None:
    """The order names no referrer: the referral notes, in the buyer's slot, that its referrer never paid."""
    world = World(backend.client, tenant)
    await world.pays("parent", DAY0 - timedelta(days=20))
    await world.invite("org-acct", "hired", DAY0)  # hired in the studio's own city: a local number
    await world.invite("parent", "friend", DAY0)
    hired = await world.orders("hired", DAY0 + timedelta(hours=2))
    assert world.values[UNPAID] == pytest.approx(2.0)
    assert AT_ONCE_UNPAID in hired.rule_ids and hired.decision == "review"
    friend = await world.orders("friend", DAY0 + timedelta(hours=2))
    assert world.values[UNPAID] is None
    assert AT_ONCE_UNPAID not in friend.rule_ids and friend.decision == "allow"
    await world.invite("parent", "cousin", DAY0, phone=OUTSIDE)  # a relative on a number from home, buying at once
    cousin = await world.orders("cousin", DAY0 + timedelta(hours=1), phone=OUTSIDE)
    assert cousin.decision == "allow"


async def test_a_farm_cannot_wash_the_note_with_a_paying_referrer_or_a_late_payment(
    backend: Backend, tenant: str
) -> None:
    """The attacks: refer the buyer through a paying account too, or have the account pay after the referral."""
    world = World(backend.client, tenant)
    await world.pays("bought-acct", DAY0 - timedelta(days=5))
    await world.invite("org-acct", "hired", DAY0)
    await world.invite("bought-acct", "hired", DAY0 + timedelta(minutes=5))  # a second, paying referrer
    await world.pays("org-acct", DAY0 + timedelta(minutes=10))  # the account pays once the buyer joined
    later = await world.orders("hired", DAY0 + timedelta(hours=1))
    assert world.values[UNPAID] == pytest.approx(1.0)
    assert AT_ONCE_UNPAID in later.rule_ids
    await world.invite("org-acct", "hired2", DAY0 + timedelta(hours=2))  # now it has paid: nothing noted
    await world.orders("hired2", DAY0 + timedelta(hours=3))
    assert world.values[UNPAID] is None


async def test_the_note_costs_no_round_trip_on_one_server(redis_client: Redis, tenant: str) -> None:
    world = World(redis_client, tenant)
    for step in range(2):
        await redis_client.config_resetstat()
        if step == 0:
            await world.invite("org-acct", "hired", DAY0)
        else:
            await world.orders("hired", DAY0 + timedelta(hours=1))
        stats = await redis_client.info("commandstats")
        assert stats["cmdstat_evalsha"]["calls"] == 1
    assert world.values[UNPAID] == pytest.approx(1.0)
