"""Red team, session 8: an ``order_paid`` of 0 yuan is no payment, for any "has it paid" mark.

A 0元 checkout (a free gift's order, an order its coupon paid in full) reaches ``/v1/events`` as an
``order_paid`` whose amount is 0. Every mark that asks "has this account paid" (a referrer's
``days_since_paid``, the chain's ``chain_paid``, a linked group's ``linked_paid_share``, a
referrer's invitees' ``paid_share``) took it for a payment: a 刷单 organiser's account, a
crowd-work tree's root, one member of a farm's linked group or one invitee in five claimed the
free gift and the rules that need "nobody here ever paid" were off, for nothing. An order that
says it cost nothing now marks nothing; one that gives no amount is still a payment (as before).
Red team, session 9: nor does one of less than a fen (``amount: 0.004``), which is more than 0.
Real Redis, one server and the cluster, the shipped pack.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from feature_backends import Backend

from engine.compile.pack import compile_files
from engine.events import Event
from engine.features.spec import Entity, ReferralFeature, ReferralMetric
from tests.engine.features.test_redteam_paid_marks import LINKED_PAID, SETTLED_SHARE
from tests.engine.features.test_referral_chain_pack import PACK
from tests.engine.features.test_referral_chain_paid import SPECS as CHAIN_SPECS
from tests.engine.features.test_referral_chain_paid import event as chain_event
from tests.engine.features.test_referrer_paid import DAY0, PAID, World

#: What a free order says it cost: nothing, or less than a fen (red team, session 9: 0.004 > 0 was a payment).
FREE = pytest.mark.parametrize("free", [0.0, 0.004, 0.0099])


@FREE
async def test_a_referrer_whose_only_order_was_free_is_not_a_customer(
    backend: Backend, tenant: str, free: float
) -> None:
    world = World(backend.client, tenant)
    await world.send(type="order_paid", customer="org-acct", amount=free, timestamp=DAY0 - timedelta(days=6))
    await world.invite("org-acct", "b1", DAY0)
    assert world.values[PAID] is None
    await world.send(type="order_paid", customer="mum", timestamp=DAY0 - timedelta(days=6))  # no amount: paid
    await world.invite("mum", "friend", DAY0)
    assert world.values[PAID] == pytest.approx(6.0)


@FREE
async def test_a_tree_root_with_a_free_order_gives_its_workers_no_paying_chain(
    backend: Backend, tenant: str, free: float
) -> None:
    store = backend.store()
    order = chain_event(1, "order_paid", "root").model_copy(update={"amount": free})
    await store.record_outcome(tenant=tenant, event=order, specs=CHAIN_SPECS)
    got = await store.record_and_read(tenant=tenant, event=chain_event(3, "referral", "w1", "root"), specs=CHAIN_SPECS)
    assert got.values["referrer.has_paid"] is False
    got = await store.record_and_read(tenant=tenant, event=chain_event(4, "referral", "w2", "w1"), specs=CHAIN_SPECS)
    assert got.values["referrer.chain_paid"] == 0


@FREE
async def test_a_farm_member_with_a_free_order_does_not_make_its_linked_group_a_paying_one(
    backend: Backend, tenant: str, free: float
) -> None:
    world = World(backend.client, tenant)
    for n in range(4):
        await world.send(type="signup", customer=f"farm{n}", device="rack-1", timestamp=DAY0 + timedelta(minutes=n))
    await world.send(
        type="order_paid", customer="farm0", amount=free, device="rack-1", timestamp=DAY0 + timedelta(minutes=10)
    )
    await world.send(type="signup", customer="farm4", device="rack-1", timestamp=DAY0 + timedelta(minutes=30))
    assert world.values[LINKED_PAID] == 0


@FREE
async def test_an_invitee_with_a_free_order_does_not_make_its_referrer_a_buying_one(
    backend: Backend, tenant: str, free: float
) -> None:
    """invitees_never_buy (1104): 5 settled invitees, none paid; one claiming a free gift's order passed it."""
    world = World(backend.client, tenant)
    for n in range(5):
        await world.invite("farm-ref", f"inv{n}", DAY0 - timedelta(days=10, minutes=-n))
    await world.send(type="order_paid", customer="inv0", amount=free, timestamp=DAY0 - timedelta(days=9))
    evaluation = await world.invite("farm-ref", "inv5", DAY0)
    assert world.values[SETTLED_SHARE] == 0
    assert "invitees_never_buy" in evaluation.rule_ids


OWN = ReferralFeature("customer.days_since_paid", ReferralMetric.DAYS_SINCE_PAID, by=Entity.CUSTOMER)


async def test_a_customers_own_paid_mark_is_net_of_refunds_and_free_orders(backend: Backend, tenant: str) -> None:
    """``customer.days_since_paid`` (``by: customer``): "has this account paid", that a refund of everything and a
    free order do not buy, for the rules that ask it of the event's own customer (``orders_365d`` counts both)."""
    store = backend.store()

    async def own(n: int, kind: str, customer: str, **fields: object) -> object:
        at = DAY0 + timedelta(hours=n)
        body = {"event_id": f"own-{n}", "type": kind, "customer": customer, "timestamp": at, **fields}
        got = await store.record_and_read(tenant=tenant, event=Event.model_validate(body), specs=(OWN,))
        return got.values[OWN.name]

    async def outcome(n: int, kind: str, customer: str, **fields: object) -> None:
        body = {"event_id": f"own-{n}", "type": kind, "customer": customer, "timestamp": DAY0 + timedelta(hours=n)}
        await store.record_outcome(tenant=tenant, event=Event.model_validate({**body, **fields}), specs=(OWN,))

    await outcome(0, "order_paid", "farm-a", amount=99)
    await outcome(1, "refund", "farm-a", amount=99)
    await outcome(2, "order_paid", "farm-b", amount=0)
    await outcome(3, "order_paid", "mum", amount=99)
    await outcome(6, "order_paid", "farm-c", amount=0.009)  # less than a fen (red team, session 9)
    await outcome(7, "order_paid", "mum2", amount=0.01)  # a fen is a payment
    assert await own(4, "coupon_claim", "farm-a") is None
    assert await own(5, "coupon_claim", "farm-b") is None
    assert await own(8, "coupon_claim", "farm-c") is None
    assert await own(31, "coupon_claim", "mum2") == pytest.approx(1.0)
    assert await own(27, "coupon_claim", "mum") == pytest.approx(1.0)


def test_a_pack_reads_its_customers_own_paid_mark() -> None:
    pack = PACK.replace("customer.paid == 0", "not exists(customer.paid)").replace(
        "{referral: chain_paid, by: customer}", "{referral: days_since_paid, by: customer}"
    )
    ruleset, diagnostics = compile_files({"p.yaml": pack})
    assert diagnostics == [] and ruleset is not None
    assert ruleset.features["customer.paid"].by is Entity.CUSTOMER  # type: ignore[union-attr]
    assert ruleset.features["customer.paid"] in ruleset.record_plan["order_paid"]  # a paid order marks the payer
    assert ruleset.features["customer.paid"] in ruleset.record_plan["refund"]  # and its refund takes it back
