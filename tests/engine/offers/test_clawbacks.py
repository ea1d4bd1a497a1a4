"""Late evidence in the ledger on real Redis: holds voided or approved, reservations cancelled, clawbacks once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from engine.events import Event
from engine.model import Offer, Reservation
from engine.offers import OfferLedger
from engine.offers.clawbacks import Clawbacks

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)
VALUES = {"newcomer_gift": 30.0, "referral_gift": 50.0, "trial_99": 99.0, "checkout": 20.0}

MakeOffer = Callable[..., Offer]
MakeEvent = Callable[..., Event]


async def test_a_newcomer_gift_is_voided_by_late_evidence_and_its_unit_comes_back(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    ledger = OfferLedger(redis_client)
    gift = offer("newcomer_gift", total=10, per_customer=1, hold_days=7)
    held = (await ledger.grant(tenant=tenant, event=event("coupon_claim", "f1", AT), evaluation_offers=[gift],
                               zone=SHANGHAI))[0]  # fmt: skip
    assert (held.status, held.beneficiary_id) == ("held", "f1")
    voided = await ledger.decide_holds(tenant=tenant, customer="f1", verb="void", cause="late:linked_at_checkout",
                                       at=AT, cause_event="e-pay")  # fmt: skip
    assert [(c.status, c.reason) for c in voided] == [("voided", "late:linked_at_checkout")]
    assert await ledger.decide_holds(tenant=tenant, customer="f1", verb="void", cause="late:x", at=AT,
                                     cause_event="e-pay") == []  # fmt: skip
    state = (await ledger.budgets(tenant=tenant, offers=[gift], zone=SHANGHAI, now=AT))[gift.id]
    assert (state.used, state.voided) == (0, 1)
    paid = await ledger.on_outcome(tenant=tenant, event=event("order_paid", "f1", AT + timedelta(hours=1)))
    assert paid == []  # nothing left to release


async def test_approve_releases_only_the_beneficiarys_holds(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    ledger = OfferLedger(redis_client)
    reward = offer("referral_gift", total=10, per_customer=5, hold_days=30, beneficiary="referrer")
    await ledger.grant(tenant=tenant, event=event("referral", "friend", AT, referrer="mum"), evaluation_offers=[reward],
                       zone=SHANGHAI)  # fmt: skip
    assert await ledger.decide_holds(tenant=tenant, customer="friend", verb="approve", cause="review_approved", at=AT,
                                     cause_event="c-1") == []  # fmt: skip
    released = await ledger.decide_holds(tenant=tenant, customer="mum", verb="approve", cause="review_approved",
                                         at=AT, cause_event="c-2")  # fmt: skip
    assert [(c.status, c.beneficiary_id) for c in released] == [("released", "mum")]


async def test_an_open_reservation_is_cancelled_a_committed_one_stays(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    ledger = OfferLedger(redis_client)
    checkout = dataclasses.replace(offer("checkout", total=5), reserve=Reservation(1800, "order_paid",
                                                                                   frozenset({"refund"})))  # fmt: skip
    for customer in ("open-1", "paid-1"):
        await ledger.grant(tenant=tenant, event=event("order", customer, AT), evaluation_offers=[checkout],
                           zone=SHANGHAI)  # fmt: skip
    await ledger.on_reservation_outcome(tenant=tenant, event=event("order_paid", "paid-1", AT))
    for customer, expected in (("open-1", ["cancelled"]), ("paid-1", [])):
        moved = await ledger.cancel_reservations(tenant=tenant, customer=customer, cause="late:fraud_label", at=AT,
                                                 cause_event="e-label")  # fmt: skip
        assert [m.status for m in moved] == expected
    state = (await ledger.budgets(tenant=tenant, offers=[checkout], zone=SHANGHAI, now=AT))[checkout.id]
    assert (state.used, state.cancelled, state.committed) == (1, 1, 1)


async def test_clawbacks_reach_the_window_and_are_written_once(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    ledger, claw = OfferLedger(redis_client), Clawbacks(redis_client)
    trial, gift = offer("trial_99", total=10), offer("newcomer_gift", total=10, hold_days=7)
    old = AT - timedelta(days=40)
    await ledger.grant(tenant=tenant, event=event("signup", "c1", old), evaluation_offers=[trial], zone=SHANGHAI)
    await ledger.grant(tenant=tenant, event=event("coupon_claim", "c1", AT), evaluation_offers=[gift], zone=SHANGHAI)
    await ledger.on_outcome(tenant=tenant, event=event("order_paid", "c1", AT, attributes={"order_id": "o-1"}))
    since = AT - timedelta(days=30)
    found = await claw.against(tenant=tenant, customer="c1", since=since, cause="fraud_label", cause_event="e-l",
                               at=AT, values=VALUES)  # fmt: skip
    assert [(c.offer_id, c.value, c.cause) for c in found] == [
        ("newcomer_gift", 30.0, "fraud_label")
    ]  # not the old trial
    again = await claw.against(tenant=tenant, customer="c1", since=since, cause="chargeback", cause_event="e-c",
                               at=AT, values=VALUES)  # fmt: skip
    assert again == []
    assert [c["cause"] for c in await claw.of(tenant=tenant, customer="c1")] == ["fraud_label"]


async def test_a_refund_claws_back_what_its_order_released_and_nothing_else(
    redis_client: Redis, tenant: str, offer: MakeOffer, event: MakeEvent
) -> None:
    ledger, claw = OfferLedger(redis_client), Clawbacks(redis_client)
    reward = offer("referral_gift", total=10, per_customer=5, hold_days=30, beneficiary="referrer")
    for invitee in ("buyer-1", "buyer-2"):
        await ledger.grant(tenant=tenant, event=event("referral", invitee, AT, referrer="leader"),
                           evaluation_offers=[reward], zone=SHANGHAI)  # fmt: skip
        paid = event("order_paid", invitee, AT, attributes={"order_id": f"o-{invitee}"})
        await ledger.on_outcome(tenant=tenant, event=paid)
    since = AT - timedelta(days=30)
    kwargs = {"since": since, "cause": "refund_released", "cause_event": "e-r", "at": AT, "values": VALUES}
    assert await claw.released_by(tenant=tenant, payer="buyer-1", order="o-other", **kwargs) == []  # type: ignore[arg-type]
    found = await claw.released_by(tenant=tenant, payer="buyer-1", order="o-buyer-1", **kwargs)  # type: ignore[arg-type]
    assert [(c.customer, c.offer_id) for c in found] == [("leader", "referral_gift")]
    assert await claw.released_by(tenant=tenant, payer="buyer-2", order="o-buyer-1", **kwargs) == []  # type: ignore[arg-type]
    assert len(await claw.of(tenant=tenant, customer="leader")) == 1
