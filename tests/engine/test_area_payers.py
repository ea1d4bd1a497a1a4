"""The area learned from a store's payers: what a farmer who controls every byte can do to it.

A studio in Hangzhou whose pack still says 北京: its parents' numbers (浙江) must become
"inside" once they pay, and a farmer must not be able to make his province (河南) "home"
by paying cheap orders, refunding, or paying once from a few accounts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.area.payers import TOTAL, AreaPolicy, PayerAreas
from engine.events import Event

ZHEJIANG, HENAN, BEIJING = "1300370", "1301554", "1300111"  # 7-digit blocks the geocoder places there
POLICY = AreaPolicy(declared=frozenset({"北京"}))


def _event(kind: str, customer: str, *, phone: str | None = None, ip: str | None = None, amount: float | None = None):  # type: ignore[no-untyped-def]
    return Event(
        event_id=f"{kind}-{customer}-{amount}", type=kind, customer=customer, phone=phone, ip=ip,
        amount=amount, timestamp=datetime.now(UTC),
    )  # fmt: skip


def _payers(areas: PayerAreas, block: str, count: int, *, prefix: str, amount: float = 99) -> None:
    for i in range(count):
        customer = f"{prefix}{i}"
        areas.observe(_event("signup", customer, phone=f"{block}{i:04d}"))
        areas.observe(_event("order_paid", customer, amount=amount))


def test_the_stores_own_payers_make_their_province_inside() -> None:
    areas = PayerAreas()
    _payers(areas, ZHEJIANG, 40, prefix="mum")
    assert areas.snapshot() == {"浙江": 40, TOTAL: 40}
    assert POLICY.area(areas.snapshot()) == {"北京", "浙江"}


def test_too_few_payers_teach_nothing() -> None:
    areas = PayerAreas()
    _payers(areas, HENAN, 19, prefix="f")
    assert POLICY.area(areas.snapshot()) == {"北京"}


def test_many_cheap_orders_from_one_account_count_once() -> None:
    areas = PayerAreas()
    _payers(areas, ZHEJIANG, 100, prefix="mum")
    areas.observe(_event("signup", "farmer", phone=f"{HENAN}0001"))
    for _ in range(500):
        areas.observe(_event("order_paid", "farmer", amount=0.01))
    assert areas.snapshot()["河南"] == 1
    assert POLICY.area(areas.snapshot()) == {"北京", "浙江"}


def test_paying_and_refunding_in_full_counts_nothing_and_a_partial_refund_still_counts() -> None:
    areas = PayerAreas()
    _payers(areas, ZHEJIANG, 50, prefix="mum")
    _payers(areas, HENAN, 30, prefix="hired")
    for i in range(30):
        areas.observe(_event("refund", f"hired{i}", amount=99 if i < 20 else 30))
    assert areas.snapshot()["河南"] == 10  # the 10 partly refunded still paid something
    areas.observe(_event("chargeback", "hired25"))  # no amount: all of it
    assert areas.snapshot()["河南"] == 9
    assert POLICY.area(areas.snapshot()) == {"北京", "浙江", "河南"}  # 9 who kept paying, of 59: 15%...
    # ...a share, not a count: the same farm against a store of 200 local payers is below 10%
    _payers(areas, ZHEJIANG, 150, prefix="more")
    assert "河南" not in POLICY.area(areas.snapshot())  # type: ignore[operator]


def test_a_farm_must_bring_a_tenth_of_the_stores_payers_and_leave_the_money() -> None:
    areas = PayerAreas()
    _payers(areas, ZHEJIANG, 900, prefix="mum")
    _payers(areas, HENAN, 99, prefix="alt")
    assert "河南" not in POLICY.area(areas.snapshot())  # type: ignore[operator]
    _payers(areas, HENAN, 2, prefix="more-alt")
    assert "河南" in POLICY.area(areas.snapshot())  # type: ignore[operator]


def test_a_payer_cannot_be_re_homed_by_later_events() -> None:
    areas = PayerAreas()
    _payers(areas, ZHEJIANG, 30, prefix="mum")
    for i in range(30):  # the same accounts now claim Henan numbers and IPs
        areas.observe(_event("red_packet_claim", f"mum{i}", phone=f"{HENAN}{i:04d}"))
    assert areas.snapshot() == {"浙江": 30, TOTAL: 30}


def test_a_phone_replaces_an_ip_region_and_the_payer_moves_once() -> None:
    areas = PayerAreas()
    areas.observe(_event("order_paid", "mum", amount=99))  # history: paid before any region was known
    assert areas.snapshot() == {}
    areas.observe(_event("store_visit", "mum", ip="1.0.1.1"))  # an IP ip2region places
    ip_region = next(iter(set(areas.snapshot()) - {TOTAL}))
    areas.observe(_event("signup", "mum", phone=f"{ZHEJIANG}0001"))
    assert areas.snapshot() == {"浙江": 1, TOTAL: 1}
    assert ip_region != "浙江" or areas.snapshot()["浙江"] == 1


def test_learning_off_or_a_declared_region_stays_what_the_pack_says() -> None:
    areas = PayerAreas()
    _payers(areas, ZHEJIANG, 100, prefix="mum")
    assert AreaPolicy(declared=frozenset({"北京"}), learned=False).area(areas.snapshot()) == {"北京"}
    assert POLICY.area({}) == {"北京"}  # nobody paid yet: the declared area, never "outside" for all
    assert AreaPolicy().area({}) is None  # nothing declared, nothing learned: no region is outside
    assert AreaPolicy().area(areas.snapshot()) == {"浙江"}  # no service_area: the payers' province


@pytest.mark.parametrize("free", [0, 0.004])
def test_a_free_order_teaches_nothing(free: float) -> None:
    """Red team, session 8: an ``order_paid`` of 0 (a 0元 gift checkout, an order the coupon paid in full) was
    counted as a cent, so a farm's accounts made their province home for nothing. Session 9: so was one of
    less than a fen (0.004 rounded up to a cent)."""
    areas = PayerAreas()
    _payers(areas, ZHEJIANG, 30, prefix="mum")
    _payers(areas, HENAN, 30, prefix="free", amount=free)
    assert areas.snapshot() == {"浙江": 30, TOTAL: 30}
    assert POLICY.area(areas.snapshot()) == {"北京", "浙江"}
    areas.observe(_event("order_paid", "free0"))  # an order that gives no amount is still a payment
    assert areas.snapshot()["河南"] == 1


def test_a_refund_of_all_but_a_fen_teaches_nothing() -> None:
    """Red team, session 8: pay the trial, refund 98.99 of its 99: one fen kept the account a payer. A payer now
    counts while it keeps at least half of what it paid, so each counted account costs the farm half an order."""
    areas = PayerAreas()
    _payers(areas, ZHEJIANG, 30, prefix="mum")
    _payers(areas, HENAN, 30, prefix="hired")
    for i in range(30):
        areas.observe(_event("refund", f"hired{i}", amount=98.99 if i < 20 else 49))
    assert areas.snapshot()["河南"] == 10  # the ten who kept 50 of 99 still count
    assert "河南" in POLICY.area(areas.snapshot())  # type: ignore[operator]
    for i in range(20, 30):
        areas.observe(_event("refund", f"hired{i}", amount=1))  # and a second refund takes them below half
    assert "河南" not in areas.snapshot()
    areas.observe(_event("order_paid", "hired0", amount=99))  # paying again, and keeping it, counts again
    assert areas.snapshot()["河南"] == 1
