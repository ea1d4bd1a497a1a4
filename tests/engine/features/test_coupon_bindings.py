"""coupon.outside_binding on a real Redis and a real cluster: memberships in the customer's slot.

A code bound to a group counts its redeemer inside only after a ``member_joined`` of
that group (and not after ``member_left``); a code bound to a campaign only after an
*earlier* event in that campaign. One script call per slot: the check rides on the
customer's batch.
"""

from __future__ import annotations

from datetime import timedelta

from feature_backends import Backend
from feature_stream import START

from engine.events import Event
from engine.features.spec import OUTSIDE_BINDING, BindingFeature, CouponBinding

BOUND = BindingFeature(
    OUTSIDE_BINDING,
    (
        CouponBinding(group="parents-09", prefix="QUN09-"),
        CouponBinding(campaign="red_packet_rain", codes=frozenset({"RAIN-A"})),
        CouponBinding(group="parents-10", prefix="QUN09-X"),  # the longer prefix wins
    ),
)
SPECS = (BOUND,)
_n = iter(range(10_000))


def _event(kind: str, customer: str, minutes: int, **fields: str) -> Event:
    return Event(
        event_id=f"b{next(_n)}", type=kind, customer=customer, timestamp=START + timedelta(minutes=minutes), **fields
    )


async def _outside(backend: Backend, tenant: str, event: Event) -> object:
    store = backend.store()
    return (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values[OUTSIDE_BINDING]


async def test_a_group_code_is_inside_only_for_the_groups_members(backend: Backend, tenant: str) -> None:
    store = backend.store()
    assert await _outside(backend, tenant, _event("coupon_claim", "mum", 1, coupon="QUN09-7F3K")) is True
    # a red packet tapped in the group proves no membership
    await _outside(backend, tenant, _event("red_packet_claim", "mum", 2, group="parents-09"))
    assert await _outside(backend, tenant, _event("coupon_claim", "mum", 3, coupon="QUN09-7F3K")) is True
    await store.record_outcome(tenant=tenant, event=_event("member_joined", "mum", 4, group="parents-09"), specs=SPECS)
    assert await _outside(backend, tenant, _event("coupon_claim", "mum", 5, coupon="QUN09-8H2M")) is False
    assert await _outside(backend, tenant, _event("coupon_claim", "mum", 6, coupon="QUN09-XY1")) is True  # parents-10
    await store.record_outcome(tenant=tenant, event=_event("member_left", "mum", 7, group="parents-09"), specs=SPECS)
    assert await _outside(backend, tenant, _event("coupon_claim", "mum", 8, coupon="QUN09-8H2M")) is True
    # another tenant's members are not this tenant's
    other = tenant + "x"
    assert await _outside(backend, other, _event("coupon_claim", "mum", 9, coupon="QUN09-8H2M")) is True


async def test_a_campaign_code_needs_an_earlier_event_in_the_campaign(backend: Backend, tenant: str) -> None:
    # naming the campaign on the redemption itself proves nothing: it is read before it is recorded
    first = _event("coupon_claim", "dad", 1, coupon="RAIN-A", campaign="red_packet_rain")
    assert await _outside(backend, tenant, first) is True
    again = _event("coupon_claim", "dad", 2, coupon="RAIN-A", campaign="red_packet_rain")
    assert await _outside(backend, tenant, again) is False  # the first claim took part in the campaign
    assert await _outside(backend, tenant, _event("order", "stranger", 3, coupon="RAIN-A")) is True


async def test_unbound_codes_and_events_without_a_coupon(backend: Backend, tenant: str) -> None:
    assert await _outside(backend, tenant, _event("coupon_claim", "kid", 1, coupon="NEWBIE50")) is False
    assert await _outside(backend, tenant, _event("signup", "kid", 2)) is None


async def test_a_resold_code_typed_in_another_case_or_width_is_still_bound(backend: Backend, tenant: str) -> None:
    # attack: the buyer of QUN09-7F3K types it lower-case, full-width or padded; compared
    # exactly it was bound to nothing (outside_binding False) and passed the resale rules
    for typed in (
        "qun09-7f3k",
        "\uff31\uff55\uff4e\uff10\uff19-\uff17\uff26\uff13\uff2b",  # full-width
        " QUN09-7F3K ",
        "rain-a",
    ):
        assert await _outside(backend, tenant, _event("coupon_claim", "outsider", 1, coupon=typed)) is True, typed
    assert BOUND.binding_of("qun09-xy1") == BOUND.bindings[2]  # the longer prefix still wins
    assert BOUND.binding_of("QUN097F3K") is None  # only case and width fold, not the code itself
