"""``foreign_number``: numbers from another province than their line (slow drip), on a real Redis and a cluster.

A slow drip (细水长流) feeds a code platform's rented numbers one a day through a farmer's
home line. The farmer controls every byte: he may leave the phone off the claim and the
checkout (they never carry one), send the same number twice, spell it with spaces or
``+86``, or come in on a private or IPv6 address. None of that makes a rented number local
or counts one twice; a local number, or a line nobody can place, counts nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from feature_backends import Backend
from feature_stream import START

from engine import geo
from engine.events import Event
from engine.features.keys import entity_value
from engine.features.spec import Aggregate, Entity, WindowedFeature

FOREIGN = WindowedFeature(
    name="ip.foreign_numbers_30d",
    aggregate=Aggregate.DISTINCT,
    by=Entity.IP,
    window_seconds=30 * 86400,
    on=frozenset({"signup", "referral"}),
    field="foreign_number",
)
SPECS = (FOREIGN,)
_n = iter(range(10_000))

HOME_LINE = "60.177.179.252"  # China Telecom broadband, Hangzhou (Zhejiang)
SHANGHAI_LINE = "218.83.239.20"
JIANGSU, BEIJING, VIRTUAL = "+8618912345678", "+8613800138000", "+8617012345678"
HANGZHOU = "+8615168433908"  # a Hangzhou block: a local parent


def _event(kind: str, customer: str, ip: str | None, phone: str | None, days: float) -> Event:
    return Event(
        event_id=f"fgn{next(_n)}",
        type=kind,
        customer=customer,
        ip=ip,
        phone=phone,
        campaign="newcomer_gift" if kind == "coupon_claim" else None,
        timestamp=START + timedelta(days=days),
    )


async def _foreign(backend: Backend, tenant: str, event: Event) -> object:
    store = backend.store()
    return (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values[FOREIGN.name]


@pytest.mark.parametrize(
    ("phone", "ip", "foreign"),
    [
        (JIANGSU, HOME_LINE, True),  # a Jiangsu number on a Hangzhou line
        (VIRTUAL, HOME_LINE, True),  # no province claims a virtual segment: not a local number
        (HANGZHOU, HOME_LINE, False),  # a local parent
        (JIANGSU, SHANGHAI_LINE, True),
        (BEIJING, "123.112.9.21", False),  # a Beijing number on a Beijing line: a relative at home
        (JIANGSU, "::ffff:" + HOME_LINE, True),  # a dual-stack socket's spelling of the same line
        (JIANGSU, "192.168.1.20", False),  # a private line places nobody: never foreign
        (JIANGSU, "2408:8207:1850::1", False),  # IPv6: no region in the offline database
        (JIANGSU, "8.8.8.8", False),  # a line abroad is no province to compare with
        ("+862558881234", HOME_LINE, False),  # a landline has no mobile block
        ("+14155552671", HOME_LINE, False),  # a number of another country
        (None, HOME_LINE, False),
        (JIANGSU, None, False),
    ],
)
def test_a_number_is_foreign_to_a_line_of_another_province(phone: str | None, ip: str | None, foreign: bool) -> None:
    event = _event("signup", "c", ip, phone, 0)
    value = entity_value(event, Entity.FOREIGN_NUMBER)
    assert value == (event.phone if foreign else None)
    assert (geo.foreign_number(event.phone, event.ip) is not None) is foreign


async def test_a_drip_line_counts_each_rented_number_and_its_claims_read_it(backend: Backend, tenant: str) -> None:
    # attack: one rented number a day through the home line, each account claiming on it minutes later
    seen = []
    for day, phone in enumerate((JIANGSU, BEIJING, VIRTUAL)):
        seen.append(await _foreign(backend, tenant, _event("signup", f"drip{day}", HOME_LINE, phone, day)))
        seen.append(await _foreign(backend, tenant, _event("coupon_claim", f"drip{day}", HOME_LINE, None, day + 0.01)))
    assert seen == [1, 1, 2, 2, 3, 3]  # the claim carries no phone and still reads the line's numbers


async def test_the_same_number_again_or_respelled_counts_once(backend: Backend, tenant: str) -> None:
    # attack: sign the same rented number up twice, once spelled with spaces, to look like one parent
    assert await _foreign(backend, tenant, _event("signup", "a", HOME_LINE, JIANGSU, 0)) == 1
    assert await _foreign(backend, tenant, _event("signup", "b", HOME_LINE, "189 1234 5678", 1)) == 1
    assert await _foreign(backend, tenant, _event("referral", "c", HOME_LINE, "+86 189-1234-5678", 2)) == 1


async def test_local_numbers_and_unplaceable_lines_count_nothing(backend: Backend, tenant: str) -> None:
    # honest look-alike: a family's home line, every number from the city
    for day in range(4):
        phone = f"+86151684339{day:02d}"
        assert await _foreign(backend, tenant, _event("signup", f"fam{day}", HOME_LINE, phone, day)) == 0
    # a private address is no line: nothing written or read for it, nothing lowered on the real one
    assert await _foreign(backend, tenant, _event("signup", "p", "10.0.0.7", JIANGSU, 5)) == 0
    assert await _foreign(backend, tenant, _event("signup", "q", HOME_LINE, JIANGSU, 6)) == 1


async def test_a_month_later_the_numbers_have_left_the_window(backend: Backend, tenant: str) -> None:
    assert await _foreign(backend, tenant, _event("signup", "old", HOME_LINE, JIANGSU, 0)) == 1
    assert await _foreign(backend, tenant, _event("signup", "new", HOME_LINE, BEIJING, 31)) == 1
