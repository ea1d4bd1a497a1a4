"""Red team, session 7: a free "payment" (paid, then refunded) must not make an account a customer.

``referrer.days_since_paid`` (is the referrer a customer), ``customer.hours_since_unpaid_referral``
(what the referral knew) and ``chain_paid`` (has anyone up the chain paid) gate the 刷单 and
crowd-work-tree rules: each is off once the account has paid. The attack: the organiser's
referrer account, or a tree's root, pays for a 99-yuan trial and refunds it in full before its
buyers or workers join. It cost nothing, yet every mark said "paid" for a year, and the
rules that catch the ring before its refunds were off. A refund that takes back everything the
account had paid (net of its refunds) now clears its own marks; a partial refund, or a payment
after the refund, leaves it a customer. Real Redis, one server and the cluster, the shipped pack.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from feature_backends import Backend
from redis.asyncio import Redis

from engine.events import Event
from tests.engine.features.test_referral_chain_paid import SPECS as CHAIN_SPECS
from tests.engine.features.test_referral_chain_paid import event as chain_event
from tests.engine.features.test_referrer_paid import AT_ONCE_UNPAID, DAY0, PAID, QUICK, UNPAID, World


async def test_a_referrer_that_paid_and_refunded_it_all_is_not_a_customer(backend: Backend, tenant: str) -> None:
    """The organiser's account buys the trial, refunds it, then gains quick payers: reviewed as if it never paid."""
    world = World(backend.client, tenant)
    await world.pays("org-acct", DAY0 - timedelta(days=6))
    await world.send(type="refund", customer="org-acct", amount=99, timestamp=DAY0 - timedelta(days=5))
    await world.invite("org-acct", "b1", DAY0)
    assert world.values[PAID] is None
    await world.pays("b1", DAY0 + timedelta(minutes=40))
    hired = await world.invite("org-acct", "b2", DAY0 + timedelta(hours=3))
    assert QUICK in hired.rule_ids and hired.decision == "review"
    assert hired.offers == ()
    order = await world.orders("b2", DAY0 + timedelta(hours=4))  # the buyer's order knows its referrer never paid
    assert world.values[UNPAID] == pytest.approx(1.0)
    assert AT_ONCE_UNPAID in order.rule_ids


async def test_refunds_in_parts_or_a_chargeback_take_it_back_too(redis_client: Redis, tenant: str) -> None:
    world = World(redis_client, tenant)
    await world.pays("acct-a", DAY0 - timedelta(days=6))
    for part in (50, 49):  # 99 refunded in two parts
        await world.send(type="refund", customer="acct-a", amount=part, timestamp=DAY0 - timedelta(days=5))
    await world.invite("acct-a", "x1", DAY0)
    assert world.values[PAID] is None
    await world.pays("acct-b", DAY0 - timedelta(days=6))
    await world.send(type="chargeback", customer="acct-b", timestamp=DAY0 - timedelta(days=5))  # no amount: all of it
    await world.invite("acct-b", "x2", DAY0)
    assert world.values[PAID] is None


async def test_a_customer_who_refunds_part_or_pays_again_is_still_a_customer(backend: Backend, tenant: str) -> None:
    """The honest look-alikes: a parent refunds one add-on of her package; another refunds, then buys again."""
    world = World(backend.client, tenant)
    await world.send(type="order_paid", customer="mum", amount=1500, timestamp=DAY0 - timedelta(days=20))
    await world.send(type="order_paid", customer="mum", amount=99, timestamp=DAY0 - timedelta(days=10))
    await world.send(type="refund", customer="mum", amount=99, timestamp=DAY0 - timedelta(days=9))
    await world.invite("mum", "friend1", DAY0)
    assert world.values[PAID] == pytest.approx(10.0)
    await world.pays("dad", DAY0 - timedelta(days=30))
    await world.send(type="refund", customer="dad", amount=99, timestamp=DAY0 - timedelta(days=29))
    await world.pays("dad", DAY0 - timedelta(days=3))
    await world.invite("dad", "friend2", DAY0)
    assert world.values[PAID] == pytest.approx(3.0)


async def test_a_stranger_refunding_never_clears_a_customers_mark(redis_client: Redis, tenant: str) -> None:
    """A refund names its own customer: one sent for an account that never paid writes nothing, and
    does not make the next payment of that account count for less."""
    world = World(redis_client, tenant)
    await world.send(type="refund", customer="later-mum", amount=500, timestamp=DAY0 - timedelta(days=9))
    await world.pays("later-mum", DAY0 - timedelta(days=2))
    await world.invite("later-mum", "friend", DAY0)
    assert world.values[PAID] == pytest.approx(2.0)
    owns = [k async for k in redis_client.scan_iter(f"*{tenant}*rg:own*")]
    assert len(owns) == 1 and await redis_client.pttl(owns[0]) > 0


async def test_a_tree_root_that_paid_and_refunded_gives_its_workers_no_paying_chain(
    backend: Backend, tenant: str
) -> None:
    store = backend.store()
    assert await store.record_outcome(tenant=tenant, event=chain_event(1, "order_paid", "root"), specs=CHAIN_SPECS)
    assert await store.record_outcome(tenant=tenant, event=chain_event(2, "refund", "root"), specs=CHAIN_SPECS)
    got = await store.record_and_read(tenant=tenant, event=chain_event(3, "referral", "w1", "root"), specs=CHAIN_SPECS)
    assert got.values["referrer.has_paid"] is False
    got = await store.record_and_read(tenant=tenant, event=chain_event(4, "referral", "w2", "w1"), specs=CHAIN_SPECS)
    assert got.values["referrer.chain_paid"] == 0


LINKED_PAID = "customer.linked_paid_share_30d"


async def test_a_farm_member_that_paid_and_refunded_does_not_make_its_linked_group_a_paying_one(
    backend: Backend, tenant: str
) -> None:
    """linked_farm needs a group where none paid: one account buying the trial and refunding it must not pass it."""
    world = World(backend.client, tenant)
    for n in range(4):
        await world.send(type="signup", customer=f"farm{n}", device="rack-1", timestamp=DAY0 + timedelta(minutes=n))
    await world.pays("farm0", DAY0 + timedelta(minutes=10), device="rack-1")
    await world.send(type="refund", customer="farm0", amount=99, timestamp=DAY0 + timedelta(minutes=20))
    await world.send(type="signup", customer="farm4", device="rack-1", timestamp=DAY0 + timedelta(minutes=30))
    assert world.values[LINKED_PAID] == 0
    await world.pays("farm1", DAY0 + timedelta(minutes=40), device="rack-1")  # a payment kept does count
    await world.send(type="signup", customer="farm5", device="rack-1", timestamp=DAY0 + timedelta(minutes=50))
    assert world.values[LINKED_PAID] > 0


async def test_a_retried_partial_refund_is_taken_off_once_held(backend: Backend, tenant: str) -> None:
    """The back end retries a 50-yuan refund of a 99-yuan order: the customer still has 49 paid, so it is one."""
    world = World(backend.client, tenant)
    await world.pays("mum", DAY0 - timedelta(days=6))
    refund = Event.model_validate(
        {
            "event_id": "refund-1",
            "type": "refund",
            "customer": "mum",
            "amount": 50,
            "timestamp": DAY0 - timedelta(days=5),
        }
    )
    specs = world.loaded.ruleset.record_plan["refund"]
    assert await world.store.record_outcome(tenant=tenant, event=refund, specs=specs)
    assert not await world.store.record_outcome(tenant=tenant, event=refund, specs=specs)
    await world.invite("mum", "friend", DAY0)
    assert world.values[PAID] == pytest.approx(6.0)


SETTLED_SHARE = "referrer.settled_paid_share_30d"


async def test_an_invitee_that_paid_and_refunded_it_all_does_not_make_its_referrer_a_buying_one(
    backend: Backend, tenant: str
) -> None:
    """invitees_never_buy (1104) needs 5 settled invitees none of whom paid: one buying and refunding passed it."""
    world = World(backend.client, tenant)
    for n in range(5):
        await world.invite("farm-ref", f"inv{n}", DAY0 - timedelta(days=10, minutes=-n))
    await world.pays("inv0", DAY0 - timedelta(days=9))
    await world.send(type="refund", customer="inv0", amount=99, timestamp=DAY0 - timedelta(days=8))
    got = await world.invite("farm-ref", "inv5", DAY0)
    assert world.values[SETTLED_SHARE] == 0
    assert "invitees_never_buy" in got.rule_ids


async def test_a_partly_refunded_or_repaying_invitee_still_counts_as_paid(backend: Backend, tenant: str) -> None:
    """The honest look-alikes: a friend refunds one add-on of her order; another refunds, then buys again."""
    world = World(backend.client, tenant)
    for n in range(5):
        await world.invite("mum-ref", f"fr{n}", DAY0 - timedelta(days=10, minutes=-n))
    await world.send(type="order_paid", customer="fr0", amount=1500, timestamp=DAY0 - timedelta(days=9))
    await world.send(type="refund", customer="fr0", amount=99, timestamp=DAY0 - timedelta(days=8))
    await world.pays("fr1", DAY0 - timedelta(days=9))
    await world.send(type="refund", customer="fr1", amount=99, timestamp=DAY0 - timedelta(days=8))
    await world.invite("mum-ref", "fr5", DAY0)
    assert world.values[SETTLED_SHARE] == pytest.approx(1 / 5)  # fr0 kept 1,401; fr1 got it all back
    await world.pays("fr1", DAY0 - timedelta(hours=1))  # within the share's 14 days of joining
    await world.invite("mum-ref", "fr6", DAY0 + timedelta(minutes=1))
    assert world.values[SETTLED_SHARE] == pytest.approx(2 / 5)


def test_count_refunded_is_only_for_paid_share() -> None:
    """A buy rate may say how fast invitees paid (count_refunded); no other referral metric has payments to void."""
    from engine.compile.pack import compile_files

    pack = """pack: {name: p}
decision: {review_at: 40, deny_at: 80}
tiers:
  - {id: occasional, default: true}
features:
  referrer.q: {referral: paid_share, window: 7d, within: 12h, count_refunded: true}
  referrer.m: {referral: invitees, window: 7d, count_refunded: true}
rules:
  - {id: r, code: 1, on: [referral], when: referrer.q > 0.5 and referrer.m > 2, score: 9, reason: {zh: x, en: y}}
"""
    ruleset, diagnostics = compile_files({"p.yaml": pack})
    assert ruleset is None
    assert [d.render() for d in diagnostics] == [
        "p.yaml:7:64 INVALID_VALUE feature 'referrer.m': 'count_refunded' applies to paid_share, not invitees"
    ]
