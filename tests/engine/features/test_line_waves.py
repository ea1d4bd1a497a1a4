"""A line's first and latest sign-up (rule 1246, slow drip), on a real Redis and a cluster.

A drip farmer's home line takes a few accounts a day for weeks, so the line's first sign-up
lies days before its latest; a campus's lunch-hour wave brings every sign-up within the hour,
and its students' first orders a day later still read one wave. Orders and claims are no
sign-up: they move neither age.
"""

from __future__ import annotations

from datetime import timedelta

from feature_backends import Backend
from feature_stream import START

from engine.events import Event
from engine.features.spec import Aggregate, Entity, TimeUnit, WindowedFeature

SIGNUPS = frozenset({"signup", "referral"})
FIRST = WindowedFeature(
    name="ip.first_signup_days", aggregate=Aggregate.FIRST_SEEN, by=Entity.IP, window_seconds=None,
    on=SIGNUPS, unit=TimeUnit.DAYS,
)  # fmt: skip
LAST = WindowedFeature(
    name="ip.last_signup_days", aggregate=Aggregate.LAST_SEEN, by=Entity.IP, window_seconds=None,
    on=SIGNUPS, unit=TimeUnit.DAYS,
)  # fmt: skip
SPECS = (FIRST, LAST)
_n = iter(range(10_000))


def _event(kind: str, customer: str, ip: str, days: float) -> Event:
    return Event(
        event_id=f"lwav{next(_n)}",
        type=kind,
        customer=customer,
        device=f"dv-{customer}",
        ip=ip,
        campaign="newcomer_gift" if kind == "coupon_claim" else None,
        amount=99.0 if kind == "order" else None,
        timestamp=START + timedelta(days=days),
    )


async def _span(backend: Backend, tenant: str, event: Event) -> float | None:
    values = (await backend.store().record_and_read(tenant=tenant, event=event, specs=SPECS)).values
    first, last = values[FIRST.name], values[LAST.name]
    if first is None or last is None:
        return None
    assert isinstance(first, float) and isinstance(last, float)
    return round(first - last, 3)


async def test_a_drip_line_spreads_its_sign_ups_over_days(backend: Backend, tenant: str) -> None:
    # attack: an account a day through one home line, each ordering its trial an hour later
    spans = []
    for day in range(5):
        spans.append(await _span(backend, tenant, _event("signup", f"drip{day}", "60.177.1.9", day)))
        spans.append(await _span(backend, tenant, _event("order", f"drip{day}", "60.177.1.9", day + 0.05)))
    assert spans[0] is None  # the line's first sign-up has none earlier
    assert spans[-1] == 4.0  # its fifth account's order: the line's sign-ups span four days


async def test_a_campus_wave_is_one_hour_even_a_day_later(backend: Backend, tenant: str) -> None:
    # honest look-alike: twenty students on the campus NAT within forty minutes
    for i in range(20):
        await _span(backend, tenant, _event("signup", f"student{i}", "111.161.234.9", i * 0.0014))
    # a student's first trial the next afternoon, a claim the day after: still one wave
    assert await _span(backend, tenant, _event("order", "student3", "111.161.234.9", 1.2)) == 0.027
    assert await _span(backend, tenant, _event("coupon_claim", "student4", "111.161.234.9", 2.0)) == 0.027
