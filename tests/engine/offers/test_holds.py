"""Held referral rewards on real Redis: released, voided, expired, each exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis, RedisCluster

from engine.events import Event
from engine.model import Offer
from engine.offers import Grant, OfferLedger

SHANGHAI = ZoneInfo("Asia/Shanghai")
REFERRED = datetime(2026, 11, 27, 19, 0, tzinfo=SHANGHAI)

MakeOffer = Callable[..., Offer]
MakeEvent = Callable[..., Event]


async def refer(
    ledger: OfferLedger, tenant: str, reward: Offer, event: MakeEvent, invitee: str, referrer: str = "o_mum1"
) -> Grant:
    grants = await ledger.grant(
        tenant=tenant,
        event=event("referral", invitee, REFERRED, referrer=referrer),
        evaluation_offers=[reward],
        zone=SHANGHAI,
    )
    return grants[0]


async def remaining(ledger: OfferLedger, tenant: str, reward: Offer) -> tuple[int | None, int]:
    state = (await ledger.budgets(tenant=tenant, offers=[reward], zone=SHANGHAI, now=REFERRED))[reward.id]
    return state.remaining, state.held


@pytest.fixture
def reward(offer: MakeOffer) -> Offer:
    return offer("referral_reward", total=1000, per_customer=1, hold_days=30, beneficiary="referrer")


async def test_referral_reward_is_held_then_released_by_the_invitees_first_paid_order(
    redis_client: Redis, tenant: str, reward: Offer, event: MakeEvent
) -> None:
    ledger = OfferLedger(redis_client)
    held = await refer(ledger, tenant, reward, event, "o_friend1")
    assert (held.status, held.beneficiary_id, held.release_on) == ("held", "o_mum1", "order_paid")
    assert held.void_at == REFERRED + timedelta(days=30)
    assert await remaining(ledger, tenant, reward) == (999, 1)
    assert [g.status for g in await ledger.customer_grants(tenant=tenant, customer="o_mum1")] == ["held"]

    paid = event("order_paid", "o_friend1", REFERRED + timedelta(days=3), amount=99)
    changes = await ledger.on_outcome(tenant=tenant, event=paid)
    assert [(c.hold_id, c.status, c.reason, c.beneficiary_id) for c in changes] == [
        (held.hold_id, "released", "order_paid", "o_mum1")
    ]
    again = event("order_paid", "o_friend1", REFERRED + timedelta(days=5), amount=1500)
    assert await ledger.on_outcome(tenant=tenant, event=again) == []
    assert [g.status for g in await ledger.customer_grants(tenant=tenant, customer="o_mum1")] == ["released"]
    assert await remaining(ledger, tenant, reward) == (999, 0), "a released reward keeps its unit"


async def test_the_referrers_own_order_releases_nothing(
    redis_client: Redis, tenant: str, reward: Offer, event: MakeEvent
) -> None:
    ledger = OfferLedger(redis_client)
    await refer(ledger, tenant, reward, event, "o_friend1")
    own = event("order_paid", "o_mum1", REFERRED + timedelta(days=1), amount=1500)
    assert await ledger.on_outcome(tenant=tenant, event=own) == []
    assert [g.status for g in await ledger.customer_grants(tenant=tenant, customer="o_mum1")] == ["held"]


@pytest.mark.parametrize("outcome", [{"type": "label", "label": "fraud"}, {"type": "chargeback"}])
async def test_fraud_or_chargeback_voids_the_hold_and_returns_the_unit(
    redis_client: Redis, tenant: str, reward: Offer, event: MakeEvent, outcome: dict[str, Any]
) -> None:
    ledger = OfferLedger(redis_client)
    held = await refer(ledger, tenant, reward, event, "o_fake1")
    kind = outcome.pop("type")
    changes = await ledger.on_outcome(
        tenant=tenant, event=event(kind, "o_fake1", REFERRED + timedelta(hours=2), **outcome)
    )
    assert [(c.hold_id, c.status) for c in changes] == [(held.hold_id, "voided")]
    assert await remaining(ledger, tenant, reward) == (1000, 0)
    late_pay = event("order_paid", "o_fake1", REFERRED + timedelta(days=1), amount=99)
    assert await ledger.on_outcome(tenant=tenant, event=late_pay) == [], "a voided hold is never released"
    # the unit and the referrer's per-customer allowance came back: an honest invitee earns it
    honest = await refer(ledger, tenant, reward, event, "o_friend2")
    assert honest.status == "held"


async def test_a_referrer_labelled_fraud_loses_pending_rewards(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    reward = offer("referral_reward", total=1000, per_customer=5, hold_days=30, beneficiary="referrer")
    ledger = OfferLedger(redis_client)
    for invitee in ("o_inv1", "o_inv2"):
        await refer(ledger, tenant, reward, event, invitee, referrer="o_ring")
    changes = await ledger.on_outcome(
        tenant=tenant, event=event("label", "o_ring", REFERRED + timedelta(days=1), label="fraud")
    )
    assert sorted(c.subject_id for c in changes) == ["o_inv1", "o_inv2"]
    assert {c.status for c in changes} == {"voided"}
    assert await remaining(ledger, tenant, reward) == (1000, 0)


async def test_holds_expire_when_the_invitee_never_buys(
    redis_client: Redis, tenant: str, reward: Offer, event: MakeEvent
) -> None:
    ledger = OfferLedger(redis_client)
    held = await refer(ledger, tenant, reward, event, "o_idle1")
    assert await ledger.expire_holds(tenant=tenant, now=REFERRED + timedelta(days=29)) == 0
    assert await ledger.expire_holds(tenant=tenant, now=REFERRED + timedelta(days=30, seconds=1)) == 1
    assert await ledger.expire_holds(tenant=tenant, now=REFERRED + timedelta(days=31)) == 0
    assert await remaining(ledger, tenant, reward) == (1000, 0)
    paid = event("order_paid", "o_idle1", REFERRED + timedelta(days=40), amount=99)
    assert await ledger.on_outcome(tenant=tenant, event=paid) == []
    history = await ledger.customer_grants(tenant=tenant, customer="o_mum1")
    assert [(g.hold_id, g.status) for g in history] == [(held.hold_id, "expired")]


async def test_a_paid_order_after_the_deadline_expires_instead_of_releasing(
    redis_client: Redis, tenant: str, reward: Offer, event: MakeEvent
) -> None:
    ledger = OfferLedger(redis_client)
    await refer(ledger, tenant, reward, event, "o_slow1")
    paid = event("order_paid", "o_slow1", REFERRED + timedelta(days=31), amount=99)
    changes = await ledger.on_outcome(tenant=tenant, event=paid)
    assert [(c.status, c.reason) for c in changes] == [("expired", "expired")]


async def test_racing_outcomes_change_each_hold_exactly_once(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    reward = offer("referral_reward", total=1000, hold_days=30, beneficiary="referrer")
    ledger = OfferLedger(redis_client)
    invitees = [f"o_inv{i}" for i in range(10)]
    for invitee in invitees:
        await refer(ledger, tenant, reward, event, invitee)
    later = REFERRED + timedelta(days=1)
    outcomes = [event("order_paid", i, later, amount=99) for i in invitees] * 3
    outcomes += [event("label", i, later, label="fraud") for i in invitees] * 3
    calls = [ledger.on_outcome(tenant=tenant, event=e) for e in outcomes]
    calls += [ledger.expire_holds(tenant=tenant, now=REFERRED + timedelta(days=60)) for _ in range(3)]  # type: ignore[misc]
    results = await asyncio.gather(*calls)
    changes = [c for r in results if isinstance(r, list) for c in r]
    expired = sum(r for r in results if isinstance(r, int))
    assert len(changes) + expired == 10
    assert sorted({c.subject_id for c in changes}) == sorted(c.subject_id for c in changes)
    released = sum(c.status == "released" for c in changes)
    state = (await ledger.budgets(tenant=tenant, offers=[reward], zone=SHANGHAI, now=later))[reward.id]
    assert (state.held, state.released, state.voided + state.expired, state.used) == (
        0,
        released,
        10 - released,
        released,
    )


@pytest.mark.cluster
async def test_hold_lifecycle_on_the_cluster(
    redis_cluster_client: RedisCluster, tenant: str, reward: Offer, event: MakeEvent
) -> None:
    ledger = OfferLedger(redis_cluster_client)
    paid_hold = await refer(ledger, tenant, reward, event, "o_friend1", referrer="o_mum1")
    fraud_hold = await refer(ledger, tenant, reward, event, "o_fake1", referrer="o_mum2")
    await refer(ledger, tenant, reward, event, "o_idle1", referrer="o_mum3")
    released = await ledger.on_outcome(
        tenant=tenant, event=event("order_paid", "o_friend1", REFERRED + timedelta(days=2), amount=99)
    )
    voided = await ledger.on_outcome(
        tenant=tenant, event=event("label", "o_fake1", REFERRED + timedelta(days=2), label="fraud")
    )
    assert [(c.hold_id, c.status) for c in released + voided] == [
        (paid_hold.hold_id, "released"),
        (fraud_hold.hold_id, "voided"),
    ]
    assert await ledger.expire_holds(tenant=tenant, now=REFERRED + timedelta(days=45)) == 1
    assert await remaining(ledger, tenant, reward) == (999, 0)


@pytest.fixture
def earned_reward(offer: MakeOffer) -> Offer:
    """The referrer's gift held until the friend's payment has gone 7 days without a refund."""
    made = offer("referral_reward", total=1000, per_customer=1, hold_days=30, beneficiary="referrer")
    return dataclasses.replace(made, hold=dataclasses.replace(made.hold, return_window_seconds=7 * 86400))


async def test_a_return_window_releases_the_gift_only_once_the_payment_stood_for_seven_days(
    redis_client: Redis, tenant: str, earned_reward: Offer, event: MakeEvent
) -> None:
    ledger = OfferLedger(redis_client)
    held = await refer(ledger, tenant, earned_reward, event, "o_friend7")
    paid_at = REFERRED + timedelta(days=2)
    assert await ledger.on_outcome(tenant=tenant, event=event("order_paid", "o_friend7", paid_at, amount=99)) == []
    assert [g.status for g in await ledger.customer_grants(tenant=tenant, customer="o_mum1")] == ["held"]
    assert await ledger.expire_holds(tenant=tenant, now=paid_at + timedelta(days=6, hours=23)) == 0
    assert await ledger.expire_holds(tenant=tenant, now=paid_at + timedelta(days=7, seconds=1)) == 1
    assert [g.status for g in await ledger.customer_grants(tenant=tenant, customer="o_mum1")] == ["released"]
    assert await remaining(ledger, tenant, earned_reward) == (999, 0), "an earned gift keeps its unit"
    assert held.hold_id is not None


async def test_a_refund_within_the_return_window_voids_the_gift_and_returns_the_unit(
    redis_client: Redis, tenant: str, earned_reward: Offer, event: MakeEvent
) -> None:
    """刷单: the hired buyer pays, the gift would be released, the buyer takes the money back."""
    ledger = OfferLedger(redis_client)
    held = await refer(ledger, tenant, earned_reward, event, "o_hired1")
    paid_at = REFERRED + timedelta(hours=1)
    await ledger.on_outcome(tenant=tenant, event=event("order_paid", "o_hired1", paid_at, amount=99))
    referrers_own = event("refund", "o_mum1", paid_at + timedelta(days=1), amount=1500)  # not the subject's refund
    assert await ledger.on_outcome(tenant=tenant, event=referrers_own) == []
    refund = event("refund", "o_hired1", paid_at + timedelta(days=3), amount=99)
    changes = await ledger.on_outcome(tenant=tenant, event=refund)
    assert [(c.hold_id, c.status, c.reason) for c in changes] == [(held.hold_id, "voided", "refund")]
    assert await remaining(ledger, tenant, earned_reward) == (1000, 0)
    assert await ledger.expire_holds(tenant=tenant, now=paid_at + timedelta(days=8)) == 0
    assert [g.status for g in await ledger.customer_grants(tenant=tenant, customer="o_mum1")] == ["voided"]


async def test_without_a_return_window_a_refund_leaves_a_pending_hold_alone(
    redis_client: Redis, tenant: str, reward: Offer, event: MakeEvent
) -> None:
    ledger = OfferLedger(redis_client)
    await refer(ledger, tenant, reward, event, "o_friend8")
    refund = event("refund", "o_friend8", REFERRED + timedelta(days=1), amount=99)
    assert await ledger.on_outcome(tenant=tenant, event=refund) == []
    assert [g.status for g in await ledger.customer_grants(tenant=tenant, customer="o_mum1")] == ["held"]


def test_a_return_window_needs_a_paid_order_to_count_from() -> None:
    from engine.compile.pack import compile_files

    pack = """\
tiers:
  - {id: occasional, default: true}
offers:
  - {id: visit_gift, tiers: [occasional], on: [referral], beneficiary: referrer,
     effect: {type: gift, value: 50, description: 礼},
     hold: {until: store_visit, return_window: 7d}}
  - {id: paid_gift, tiers: [occasional], on: [referral], beneficiary: referrer,
     effect: {type: gift, value: 50, description: 礼},
     hold: {until: order_paid, return_window: 120d}}
  - {id: ok_gift, tiers: [occasional], on: [referral], beneficiary: referrer,
     effect: {type: gift, value: 50, description: 礼},
     hold: {until: order_paid, return_window: 7d, void_after: 30d}}
"""
    ruleset, diagnostics = compile_files({"p.yaml": pack})
    assert ruleset is None
    assert [d.render() for d in diagnostics] == [
        "p.yaml:6:48 INVALID_VALUE offer 'visit_gift': 'hold.return_window' counts from a paid order; it needs "
        "'until: order_paid', not store_visit",
        "p.yaml:9:47 BAD_WINDOW offer 'paid_gift': 'hold.return_window' must be 1s to 90d",
    ]
    head, offers = pack.split("offers:\n")
    fine, _ = compile_files({"p.yaml": head + "offers:\n" + "\n".join(offers.splitlines()[6:]) + "\n"})
    assert fine is not None
    assert {o.id: o.hold.return_window_seconds for o in fine.offers if o.hold} == {"ok_gift": 7 * 86400}


async def test_one_sweep_expires_the_due_holds_of_every_tenant_among_many(
    redis_client: Redis, tenant: str, reward: Offer, event: MakeEvent
) -> None:
    """The worker's sweep over all tenants: the one with a due hold gets it expired, 300 without any cost nothing."""
    ledger = OfferLedger(redis_client)
    await refer(ledger, tenant, reward, event, "o_idle2")
    others = [f"{tenant}-quiet-{i}" for i in range(300)]
    assert await ledger.expire_holds_of([*others, tenant], now=REFERRED + timedelta(days=29)) == 0
    assert await ledger.expire_holds_of([*others, tenant], now=REFERRED + timedelta(days=30, seconds=1)) == 1
    assert await remaining(ledger, tenant, reward) == (1000, 0)
    assert await ledger.expire_holds_of([], now=REFERRED + timedelta(days=31)) == 0
