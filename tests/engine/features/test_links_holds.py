"""A held referral gift is not released by an invitee linked to its referrer (the referrer paying himself).

Real store on one server and on a cluster: the link forms from the events' shared identities
(engine/features/links.py), the ledger reads it beside the holds index when the invitee pays.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from feature_backends import Backend
from test_links_households import SPECS

from engine.diagnostics import Location
from engine.events import Event
from engine.model import Budget, Decision, Effect, EffectType, Hold, Offer
from engine.offers import OfferLedger

DAY0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
ZONE = ZoneInfo("UTC")
GIFT = Offer(
    id="referral_reward", label="老带新礼", tiers=frozenset({"occasional"}), on=frozenset(), condition=None,
    effect=Effect(EffectType.GIFT, 50, "精修照片2张"), priority=0, exclusive_group=None, window=None,
    budget=Budget(100, 10, None), withhold_on=frozenset({Decision.REVIEW, Decision.DENY}),
    hold=Hold("order_paid", 30), beneficiary="referrer", location=Location("rules/offers.yaml", 1, 1),
)  # fmt: skip


class Story:
    def __init__(self, backend: Backend, tenant: str) -> None:
        self.store, self.ledger, self.tenant, self.sent = backend.store(), OfferLedger(backend.client), tenant, 0

    def event(self, hours: float, **fields: object) -> Event:
        self.sent += 1
        at = DAY0 + timedelta(hours=hours)
        return Event.model_validate({"event_id": f"lh{self.sent}", "timestamp": at, **fields})

    async def scored(self, hours: float, **fields: object) -> Event:
        event = self.event(hours, **fields)
        await self.store.record_and_read(tenant=self.tenant, event=event, specs=SPECS)
        return event

    async def refer(self, hours: float, **fields: object) -> str:
        event = await self.scored(hours, type="referral", **fields)
        grants = await self.ledger.grant(tenant=self.tenant, event=event, evaluation_offers=[GIFT], zone=ZONE)
        assert grants[0].status == "held"
        return grants[0].hold_id or ""

    async def pays(self, hours: float, customer: str, **fields: object) -> list[tuple[str, str, str]]:
        event = self.event(hours, type="order_paid", customer=customer, amount=99, **fields)
        await self.store.record_outcome(tenant=self.tenant, event=event, specs=SPECS)
        return [(c.status, c.reason, c.beneficiary_id) for c in await self.ledger.on_outcome(tenant=self.tenant,
                                                                                             event=event)]  # fmt: skip


async def test_an_invitee_on_the_referrers_own_phone_releases_nothing_a_friend_on_hers_does(
    backend: Backend, tenant: str
) -> None:
    story = Story(backend, tenant)
    await story.scored(0, type="signup", customer="farmer", device="dv-farmer", phone="13800138000")
    await story.refer(1, customer="alt1", referrer="farmer", device="dv-farmer")  # the farmer's own phone
    await story.scored(0, type="signup", customer="mum", device="dv-mum", address="朝阳区望京花园3号楼")
    await story.refer(2, customer="friend", referrer="mum", device="dv-friend", address="海淀区学院路20号")
    assert await story.pays(24, "alt1") == [("voided", "linked_payer", "farmer")]
    assert await story.pays(25, "friend") == [("released", "order_paid", "mum")]
    assert await story.pays(26, "alt1") == []  # decided once


async def test_relatives_elsewhere_and_a_family_paying_for_its_own_child_are_not_linked_payers(
    backend: Backend, tenant: str
) -> None:
    story = Story(backend, tenant)
    # grandma refers her daughter's family in another city: no identity shared
    await story.scored(0, type="signup", customer="grandma", device="dv-gma", phone="13800138001")
    await story.refer(1, customer="daughter", referrer="grandma", device="dv-dau", phone="13900139002")
    assert await story.pays(30, "daughter") == [("released", "order_paid", "grandma")]
    # the invitee's own gift-free order on the family tablet releases only what she is the subject of
    await story.scored(2, type="signup", customer="dad", device="dv-tablet")
    assert await story.pays(31, "dad") == []
