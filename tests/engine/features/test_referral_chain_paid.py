"""`referrer_paid` / `chain_paid`: has the referrer, or anyone up its chain, ever paid.

A lunch-hour wave through a colleague who was invited by a friend of a paying parent, against
a crowd-work tree whose root and workers never pay.

What a farmer controlling the score request can try: name a paying stranger as referrer (the
mark is the referrer's own, so the invitee gets only that), send "order" events or a
referral that says nothing of payment (only a recorded ``order_paid`` outcome marks), or pay
from the invitee's account (the invitee's mark is not its referrer's).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feature_backends import Backend

from engine.events import Event
from engine.features.spec import Entity, FeatureSpec, ReferralFeature, ReferralMetric

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SPECS: tuple[FeatureSpec, ...] = (
    ReferralFeature("referrer.has_paid", ReferralMetric.REFERRER_PAID),
    ReferralFeature("referrer.depth", ReferralMetric.DEPTH),
    ReferralFeature("referrer.chain_paid", ReferralMetric.CHAIN_PAID),
)


def event(n: int, kind: str, customer: str, referrer: str | None = None, minutes: int = 0) -> Event:
    at = START + timedelta(minutes=n + minutes)
    fields = {"referrer": referrer} if referrer else {}
    return Event.model_validate(
        {"event_id": f"rp-{n}", "type": kind, "customer": customer, "timestamp": at, "amount": 99.0, **fields}
    )


async def test_only_the_referrers_own_paid_order_marks_it(backend: Backend, tenant: str) -> None:
    store = backend.store()

    async def has_paid(n: int, invitee: str, referrer: str) -> object:
        got = await store.record_and_read(tenant=tenant, event=event(n, "referral", invitee, referrer), specs=SPECS)
        return got.values["referrer.has_paid"]

    assert await has_paid(1, "w1", "worker") is False  # a crowd worker who never paid
    await store.record_and_read(tenant=tenant, event=event(2, "order", "worker"), specs=SPECS)  # unpaid order
    assert await has_paid(3, "w2", "worker") is False
    # its invitee pays
    assert await store.record_outcome(tenant=tenant, event=event(4, "order_paid", "w1"), specs=SPECS)
    assert await has_paid(5, "w3", "worker") is False
    assert await store.record_outcome(tenant=tenant, event=event(6, "order_paid", "colleague"), specs=SPECS)
    assert await has_paid(7, "c1", "colleague") is True  # the colleague who buys and shares the poster
    assert await has_paid(8, "c2", "colleague") is True
    assert await store.record_outcome(tenant=tenant, event=event(9, "refund", "colleague"), specs=SPECS)
    # a refund of everything it paid takes the mark back: a free "payment" (test_redteam_paid_marks.py)
    assert await has_paid(10, "c3", "colleague") is False


async def test_a_non_referral_event_has_no_referrer_to_ask(backend: Backend, tenant: str) -> None:
    got = await backend.store().record_and_read(tenant=tenant, event=event(1, "signup", "alone"), specs=SPECS)
    assert got.values["referrer.has_paid"] is None


async def test_anyone_paying_up_the_chain_counts_for_the_levels_below(backend: Backend, tenant: str) -> None:
    store = backend.store()
    n = 0

    async def refer(invitee: str, referrer: str) -> dict[str, object]:
        nonlocal n
        n += 1
        got = await store.record_and_read(tenant=tenant, event=event(n, "referral", invitee, referrer), specs=SPECS)
        return {k: got.values[k] for k in ("referrer.chain_paid", "referrer.depth")}

    async def pays(customer: str) -> None:
        nonlocal n
        n += 1
        assert await store.record_outcome(tenant=tenant, event=event(n, "order_paid", customer), specs=SPECS)

    # an honest chain: a paying parent's friend (who has not bought yet) invites a colleague,
    # who shares the poster at lunch: three levels deep, one payer above
    await pays("parent")
    assert await refer("friend", "parent") == {"referrer.chain_paid": 1, "referrer.depth": 1}
    assert await refer("colleague", "friend") == {"referrer.chain_paid": 1, "referrer.depth": 2}
    assert await refer("office1", "colleague") == {"referrer.chain_paid": 1, "referrer.depth": 3}
    # a crowd-work tree: nobody up the chain ever paid, however deep
    assert await refer("w1", "root") == {"referrer.chain_paid": 0, "referrer.depth": 1}
    assert await refer("w2", "w1") == {"referrer.chain_paid": 0, "referrer.depth": 2}
    assert await refer("w3", "w2") == {"referrer.chain_paid": 0, "referrer.depth": 3}
    # the invitee paying does not vouch for the chain above it, nor a second referral rewrite it
    await pays("w3")
    assert await refer("w4", "w2") == {"referrer.chain_paid": 0, "referrer.depth": 3}
    assert await refer("w2", "parent") == {"referrer.chain_paid": 1, "referrer.depth": 1}  # read: the parent paid
    assert await refer("w5", "w2") == {"referrer.chain_paid": 0, "referrer.depth": 3}  # w2's first upline stands
    # a node that buys once to look real vouches for the levels it invites afterwards
    await pays("w2")
    assert await refer("w6", "w2") == {"referrer.chain_paid": 1, "referrer.depth": 3}
    assert await refer("w7", "w6") == {"referrer.chain_paid": 1, "referrer.depth": 4}


OWN: tuple[FeatureSpec, ...] = (
    *SPECS,
    ReferralFeature("customer.chain_depth", ReferralMetric.DEPTH, by=Entity.CUSTOMER),
    ReferralFeature("customer.chain_paid", ReferralMetric.CHAIN_PAID, by=Entity.CUSTOMER),
)


async def test_a_customers_later_claims_carry_its_own_place_in_the_tree(backend: Backend, tenant: str) -> None:
    """A tree worker's newcomer claim has no referrer on it: the customer's own upline says where it sits."""
    store = backend.store()
    n = 0

    async def send(kind: str, customer: str, referrer: str | None = None) -> dict[str, object]:
        nonlocal n
        n += 1
        got = await store.record_and_read(tenant=tenant, event=event(n, kind, customer, referrer), specs=OWN)
        return {k: got.values[k] for k in ("customer.chain_depth", "customer.chain_paid")}

    assert await send("coupon_claim", "stranger") == {"customer.chain_depth": 0, "customer.chain_paid": 0}
    assert await store.record_outcome(tenant=tenant, event=event(50, "order_paid", "parent"), specs=OWN)
    await send("referral", "friend", "parent")
    await send("referral", "colleague", "friend")
    assert await send("coupon_claim", "colleague") == {"customer.chain_depth": 2, "customer.chain_paid": 1}
    for invitee, referrer in (("w1", "root"), ("w2", "w1"), ("w3", "w2")):
        await send("referral", invitee, referrer)
    assert await send("coupon_claim", "w3") == {"customer.chain_depth": 3, "customer.chain_paid": 0}
    # naming a paying referrer on the claim itself changes nothing: the upline is the first referral's
    assert await send("coupon_claim", "w3", "parent") == {"customer.chain_depth": 3, "customer.chain_paid": 0}
