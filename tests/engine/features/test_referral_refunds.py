"""Pay, release, refund (刷单): a referrer whose invitees pay and refund is reviewed, on the real store.

Events go through ``FeatureStore.record_and_read`` / ``record_outcome`` on a real Redis
(one server, and the local cluster where the refund's second step crosses slots), then
the shipped pack decides, as replay and the API do. The attacks first: a caller who
controls the outcome's body trying to get a stranger's referrer flagged, or to make one
refund count many times.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from feature_backends import Backend
from redis.asyncio import Redis

from engine.evaluation import Evaluation
from engine.events import OUTCOME_TYPES, Event
from engine.features.spec import ReferralFeature, ReferralMetric
from tests.engine.features.pack_world import World as PackWorld

DAY0 = datetime.fromisoformat("2026-11-01T10:00:00+08:00")  # event times after the host clock are clamped
RULE = "invitees_pay_then_refund"
COUNT, SHARE = "referrer.refunded_invitees_30d", "referrer.refund_share_30d"


class World(PackWorld):
    """One tenant's store and the shipped pack: referrers, their invitees' payments and refunds."""

    async def invite(self, referrer: str, friend: str, at: datetime) -> Evaluation:
        """A friend on their own phone and home network signs up through ``referrer``'s poster."""
        n = self.sent
        evaluation = await self.send(
            type="referral", customer=friend, referrer=referrer, device=f"dv-{friend}",
            ip=f"{36 + n % 180}.{n % 250}.{n % 7}.{10 + n % 200}", timestamp=at,
        )  # fmt: skip
        assert evaluation is not None
        return evaluation

    async def pays(self, customer: str, at: datetime) -> None:
        await self.send(type="order_paid", customer=customer, amount=99, timestamp=at)

    async def refunded(self, customer: str, at: datetime, kind: str = "refund") -> None:
        await self.send(type=kind, customer=customer, amount=99, timestamp=at)


async def hired_buyers(world: World, referrer: str, count: int, refunds: int) -> None:
    """``count`` buyers sign up through ``referrer`` on day 0 and pay; ``refunds`` of them refund a day later."""
    for k in range(count):
        at = DAY0 + timedelta(hours=k)
        await world.invite(referrer, f"{referrer}-b{k}", at)
        await world.pays(f"{referrer}-b{k}", at + timedelta(minutes=40))
    for k in range(refunds):
        await world.refunded(f"{referrer}-b{k}", DAY0 + timedelta(days=1, hours=k))


async def test_the_next_invitee_of_a_referrer_whose_buyers_refunded_is_reviewed(backend: Backend, tenant: str) -> None:
    world = World(backend.client, tenant)
    await hired_buyers(world, "organiser", count=4, refunds=1)
    after_one = await world.invite("organiser", "next1", DAY0 + timedelta(days=1, hours=2))
    assert RULE not in after_one.rule_ids  # one refund: a parent who changed her mind
    await world.refunded("organiser-b1", DAY0 + timedelta(days=1, hours=3), kind="chargeback")
    after_two = await world.invite("organiser", "next2", DAY0 + timedelta(days=1, hours=4))
    assert RULE in after_two.rule_ids
    # the organiser never paid and its buyers paid at once (unpaid_referrer_quick_payers): both say 刷单;
    # quick_paid_share counts the refunded buyers too (count_refunded: they did pay at once)
    assert after_two.decision == "deny" and "unpaid_referrer_quick_payers" in after_two.rule_ids
    assert after_two.offers == ()  # no trial, no referral gift
    assert (world.values[COUNT], world.values[SHARE]) == (2, 0.5)


async def test_a_popular_referrer_whose_friends_buy_stays_allowed_through_two_refunds(
    redis_client: Redis, tenant: str
) -> None:
    world = World(redis_client, tenant)
    await world.pays("blogger", DAY0 - timedelta(days=30))  # a parent blogger: a customer herself
    await hired_buyers(world, "blogger", count=12, refunds=2)  # 10 of 12 friends keep what they bought
    later = await world.invite("blogger", "fan13", DAY0 + timedelta(days=2))
    assert world.values[COUNT] == 2 and world.values[SHARE] == pytest.approx(2 / 12)
    assert RULE not in later.rule_ids
    assert later.decision == "allow"


async def test_refunds_for_strangers_or_unpaid_customers_flag_nobody(redis_client: Redis, tenant: str) -> None:
    """The attack: name customers who never paid, or another referrer's invitees, in refunds."""
    world = World(redis_client, tenant)
    for k in range(4):  # the victim's friends signed up; none has paid yet
        await world.invite("victim", f"v{k}", DAY0 + timedelta(hours=k))
    for k in range(4):  # refunds before any payment: nothing was paid, nothing comes back
        await world.refunded(f"v{k}", DAY0 + timedelta(hours=5 + k))
    for k in range(4):  # strangers who paid (no referrer at all) refunded in bulk
        await world.pays(f"stranger{k}", DAY0 + timedelta(hours=10))
        await world.refunded(f"stranger{k}", DAY0 + timedelta(hours=11))
    await world.invite("other", "o1", DAY0)  # another referrer's invitee, later also "referred" by the victim
    await world.pays("o1", DAY0 + timedelta(hours=1))
    await world.invite("victim", "o1", DAY0 + timedelta(hours=12))
    await world.refunded("o1", DAY0 + timedelta(hours=13))
    for k in range(4):  # the victim's friends pay after the fake refunds
        await world.pays(f"v{k}", DAY0 + timedelta(hours=14))
    later = await world.invite("victim", "v5", DAY0 + timedelta(days=1))
    assert world.values[COUNT] == 0
    assert world.values[SHARE] == 0.0
    assert later.decision == "allow"


async def test_one_invitee_refunded_many_times_counts_once(redis_client: Redis, tenant: str) -> None:
    world = World(redis_client, tenant)
    await hired_buyers(world, "aunt", count=3, refunds=1)
    for k in range(10):  # partial refunds of one order, then a chargeback of it
        await world.refunded("aunt-b0", DAY0 + timedelta(days=1, hours=2 + k), kind="refund" if k < 9 else "chargeback")
    later = await world.invite("aunt", "niece", DAY0 + timedelta(days=2))
    assert world.values[COUNT] == 1
    assert RULE not in later.rule_ids


async def test_a_refund_weeks_after_paying_is_not_pay_and_refund(redis_client: Redis, tenant: str) -> None:
    """Within 14 days of the first paid order: a package refunded a month on is a customer's dispute."""
    world = World(redis_client, tenant)
    await hired_buyers(world, "mum", count=3, refunds=0)
    for k in range(3):
        await world.refunded(f"mum-b{k}", DAY0 + timedelta(days=15, hours=k))
    later = await world.invite("mum", "friend", DAY0 + timedelta(days=16))
    assert world.values[COUNT] == 0 and world.values[SHARE] == 0.0
    assert later.decision == "allow"


async def test_a_refund_costs_what_a_paid_order_costs_and_the_read_adds_no_round_trip(
    redis_client: Redis, tenant: str
) -> None:
    """Two dependent steps for a refund of a referred payer (as an order_paid); one for anyone else."""
    world = World(redis_client, tenant)
    await hired_buyers(world, "org", count=3, refunds=0)
    await world.pays("walkin", DAY0)
    trips: list[int] = []
    for customer in ("org-b0", "walkin"):
        await redis_client.config_resetstat()
        await world.refunded(customer, DAY0 + timedelta(days=1))
        stats = await redis_client.info("commandstats")
        trips.append(stats["cmdstat_evalsha"]["calls"])
    assert trips == [2, 1]
    await redis_client.config_resetstat()
    await world.invite("org", "next", DAY0 + timedelta(days=1, hours=1))
    stats = await redis_client.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 1


async def test_an_organiser_who_keeps_its_referrer_is_reviewed_from_its_second_rounds_first_buyer(
    redis_client: Redis, tenant: str
) -> None:
    world = World(redis_client, tenant)
    await hired_buyers(world, "studio-fan", count=5, refunds=5)  # round one: every buyer refunded
    second = await world.invite("studio-fan", "round2-b0", DAY0 + timedelta(days=8))
    assert (world.values[COUNT], world.values[SHARE]) == (5, 1.0)
    # every payment taken back: five settled invitees and none kept one (invitees_never_buy) besides the refunds
    assert second.decision == "deny" and {RULE, "invitees_never_buy"} <= set(second.rule_ids)
    assert world.values["referrer.settled_paid_share_30d"] == 0


REFUND_SPECS = (
    ReferralFeature("refunded_1d", ReferralMetric.REFUNDED_INVITEES, window_seconds=86400, within_seconds=6 * 3600),
    ReferralFeature("share_1d", ReferralMetric.REFUND_SHARE, window_seconds=86400, within_seconds=6 * 3600),
    ReferralFeature("refunded_3h", ReferralMetric.REFUNDED_INVITEES, window_seconds=3 * 3600, within_seconds=86400),
)


def refund_stream(seed: int, count: int) -> list[Event]:
    """Referrals, payments, refunds and chargebacks among a few customers, minutes apart (some at once)."""
    rng = random.Random(seed)
    people = [f"p{i}" for i in range(60)]
    now, events = DAY0, []
    for n in range(count):
        now += timedelta(minutes=rng.choice([0, 5, 20, 40, 90, 180]))
        kind = rng.choices(["referral", "order_paid", "refund", "chargeback"], weights=[5, 4, 3, 1])[0]
        recent = {"order_paid": "referral", "refund": "order_paid", "chargeback": "order_paid"}.get(kind)
        pool = [e.customer for e in events[-12:] if e.type == recent]  # invitees pay, payers refund, mostly soon
        customer = rng.choice(pool) if pool and rng.random() < 0.8 else rng.choice(people)
        referrer = rng.choice(people[:4]) if kind == "referral" else None
        events.append(Event(event_id=f"o{seed}-{n}", type=kind, customer=customer, referrer=referrer, timestamp=now,
                            amount=99 if kind != "referral" else None))  # fmt: skip
    return events


def expected(spec: ReferralFeature, event: Event, prior: list[Event]) -> float | int | None:
    """Brute force: the window's invitees (first referrer wins) refunded within ``within`` of their first payment."""
    assert event.referrer is not None and spec.window_seconds is not None and spec.within_seconds is not None
    t, low = event.epoch, event.epoch - spec.window_seconds
    seen = [*prior, event]
    first_referrer: dict[str, str] = {}
    paid_at: dict[str, float] = {}
    refunded_at: dict[str, float] = {}
    for e in prior:
        if e.type == "referral" and e.referrer is not None:
            first_referrer.setdefault(e.customer, e.referrer)
        elif e.type == "order_paid" and e.customer in first_referrer:
            paid_at.setdefault(e.customer, e.epoch)
        elif e.type in ("refund", "chargeback") and e.customer in paid_at and paid_at[e.customer] <= e.epoch:
            refunded_at.setdefault(e.customer, e.epoch)
    invitees = {e.customer for e in seen if e.type == "referral" and e.referrer == event.referrer and e.epoch > low}
    mine = [c for c in invitees if first_referrer.get(c, event.referrer) == event.referrer]
    paying = [c for c in mine if c in paid_at and paid_at[c] <= t]
    refunded = [c for c in paying if c in refunded_at and refunded_at[c] - paid_at[c] <= spec.within_seconds]
    if spec.metric is ReferralMetric.REFUNDED_INVITEES:
        return len(refunded)
    return len(refunded) / len(paying) if paying else None


@pytest.mark.parametrize("seed", [1, 2])
async def test_refund_features_match_a_brute_force_count(backend: Backend, tenant: str, seed: int) -> None:
    store = backend.store()
    stream = refund_stream(seed, 160)
    checked = 0
    for index, event in enumerate(stream):
        if event.type in OUTCOME_TYPES:
            await store.record_outcome(tenant=tenant, event=event, specs=REFUND_SPECS)
            continue
        values = (await store.record_and_read(tenant=tenant, event=event, specs=REFUND_SPECS)).values
        for spec in REFUND_SPECS:
            want = expected(spec, event, stream[:index])
            assert values[spec.name] == (pytest.approx(want) if want is not None else None), (index, spec.name)
        checked += values["refunded_1d"] > 0
    assert checked >= 5  # the stream does exercise refunded invitees
