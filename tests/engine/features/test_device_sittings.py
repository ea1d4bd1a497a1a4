"""A phone's sign-ups today against this month (rule 1244, slow drip), on a real Redis and a cluster.

A slow drip brings a few accounts a day for weeks through one phone, so from its second day
the phone's sign-ups this month outnumber today's; grandparents on their daughter's old phone
sign each other up in one sitting and come back only to buy, so the two stay equal. The
daughter's own orders on the phone are no sign-up: they count in neither.
"""

from __future__ import annotations

from datetime import timedelta

from feature_backends import Backend
from feature_stream import START

from engine.events import Event
from engine.features.spec import Aggregate, Entity, WindowedFeature

DAY = 86400
SIGNUPS = frozenset({"signup", "referral"})
TODAY = WindowedFeature(
    name="device.signup_accounts_24h", aggregate=Aggregate.DISTINCT, by=Entity.DEVICE, window_seconds=DAY,
    on=SIGNUPS, field="customer",
)  # fmt: skip
MONTH = WindowedFeature(
    name="device.signup_accounts_30d", aggregate=Aggregate.DISTINCT, by=Entity.DEVICE, window_seconds=30 * DAY,
    on=SIGNUPS, field="customer",
)  # fmt: skip
SPECS = (TODAY, MONTH)
_n = iter(range(10_000))


def _event(kind: str, customer: str, device: str, days: float) -> Event:
    return Event(
        event_id=f"dsit{next(_n)}",
        type=kind,
        customer=customer,
        device=device,
        ip="123.112.20.9",
        campaign="newcomer_gift" if kind == "coupon_claim" else None,
        amount=99.0 if kind in ("order", "order_paid") else None,
        timestamp=START + timedelta(days=days),
    )


async def _read(backend: Backend, tenant: str, event: Event) -> tuple[object, object]:
    values = (await backend.store().record_and_read(tenant=tenant, event=event, specs=SPECS)).values
    return values[TODAY.name], values[MONTH.name]


async def test_a_drip_phone_signs_up_accounts_on_more_days_than_today(backend: Backend, tenant: str) -> None:
    # attack: one phone, an account a day, each claiming the newcomer gift minutes later
    seen = []
    for day in range(4):
        seen.append(await _read(backend, tenant, _event("signup", f"drip{day}", "dv-drip", day)))
        seen.append(await _read(backend, tenant, _event("coupon_claim", f"drip{day}", "dv-drip", day + 0.01)))
    assert seen == [(1, 1), (1, 1), (1, 2), (1, 2), (1, 3), (1, 3), (1, 4), (1, 4)]


async def test_grandparents_on_an_old_phone_sign_up_in_one_sitting(backend: Backend, tenant: str) -> None:
    # honest look-alike: the daughter's phone has carried her orders for months
    for day in (0.0, 20.0, 40.0):
        await _read(backend, tenant, _event("order", "daughter", "dv-old", day))
    seen = [
        await _read(backend, tenant, _event("signup", "grandma", "dv-old", 45.0)),
        await _read(backend, tenant, _event("coupon_claim", "grandma", "dv-old", 45.001)),
        await _read(backend, tenant, _event("signup", "grandpa", "dv-old", 45.01)),
        await _read(backend, tenant, _event("coupon_claim", "grandpa", "dv-old", 45.011)),
    ]
    assert seen == [(1, 1), (1, 1), (2, 2), (2, 2)]  # today's sign-ups are the month's
    # they come back days later to buy: still no sign-up on another day
    assert await _read(backend, tenant, _event("order", "grandma", "dv-old", 48.0)) == (0, 2)


async def test_a_month_later_the_phone_starts_again(backend: Backend, tenant: str) -> None:
    assert await _read(backend, tenant, _event("signup", "a1", "dv-m", 0)) == (1, 1)
    assert await _read(backend, tenant, _event("signup", "a2", "dv-m", 31)) == (1, 1)
