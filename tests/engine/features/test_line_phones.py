"""A line's sign-up accounts against its sign-up phones (rule 1247, slow drip), on a real Redis and a cluster.

A drip farmer feeds a few accounts a day through the home line from a handful of phones,
so the line's accounts outnumber its phones; a kindergarten's or a mall's Wi-Fi carries
one phone per parent. The farmer controls every byte of the events: leaving the device off
a sign-up makes the line look *more* reused (a missing device counts no phone), never less;
a fresh device id per account (改机) hides the reuse, which is the device rules' to see.
"""

from __future__ import annotations

from datetime import timedelta

from feature_backends import Backend
from feature_stream import START

from engine.events import Event
from engine.features.spec import Aggregate, Entity, WindowedFeature

MONTH = 30 * 86400
SIGNUPS = frozenset({"signup", "referral"})
ACCOUNTS = WindowedFeature(
    name="ip.signup_accounts_30d", aggregate=Aggregate.DISTINCT, by=Entity.IP, window_seconds=MONTH,
    on=SIGNUPS, field="customer",
)  # fmt: skip
PHONES = WindowedFeature(
    name="ip.signup_devices_30d", aggregate=Aggregate.DISTINCT, by=Entity.IP, window_seconds=MONTH,
    on=SIGNUPS, field="device",
)  # fmt: skip
SPECS = (ACCOUNTS, PHONES)
LINE = "123.112.20.7"
_n = iter(range(10_000))


def _event(kind: str, customer: str, device: str | None, days: float) -> Event:
    return Event(
        event_id=f"lph{next(_n)}",
        type=kind,
        customer=customer,
        device=device,
        ip=LINE,
        campaign="newcomer_gift" if kind == "coupon_claim" else None,
        timestamp=START + timedelta(days=days),
    )


async def _read(backend: Backend, tenant: str, event: Event) -> tuple[object, object]:
    values = (await backend.store().record_and_read(tenant=tenant, event=event, specs=SPECS)).values
    return values[ACCOUNTS.name], values[PHONES.name]


async def test_a_drip_line_takes_more_accounts_than_phones_and_its_claims_read_it(
    backend: Backend, tenant: str
) -> None:
    # attack: three phones, a new account a day, each claiming the newcomer gift minutes later
    seen = []
    for day, phone in enumerate(("a", "b", "a", "b", "c")):
        seen.append(await _read(backend, tenant, _event("signup", f"drip{day}", f"dv-{phone}", day)))
    seen.append(await _read(backend, tenant, _event("coupon_claim", "drip4", "dv-c", 4.01)))
    assert seen == [(1, 1), (2, 2), (3, 2), (4, 2), (5, 3), (5, 3)]  # the claim reads the line, adds nothing


async def test_a_school_line_has_a_phone_per_parent(backend: Backend, tenant: str) -> None:
    # honest look-alike: six parents on the kindergarten's Wi-Fi over a week, each on her own phone
    for day in range(6):
        assert await _read(backend, tenant, _event("signup", f"parent{day}", f"dv-parent{day}", day)) == (
            day + 1,
            day + 1,
        )
    # a claim by a parent on her phone later on the same Wi-Fi counts nobody twice
    assert await _read(backend, tenant, _event("coupon_claim", "parent5", "dv-parent5", 6.5)) == (6, 6)


async def test_a_sign_up_without_a_device_counts_an_account_and_no_phone(backend: Backend, tenant: str) -> None:
    # attack: leave the device off, hoping to count as nobody's phone: the line only looks more reused
    assert await _read(backend, tenant, _event("signup", "x1", "dv-x", 0)) == (1, 1)
    assert await _read(backend, tenant, _event("signup", "x2", None, 1)) == (2, 1)


async def test_a_month_later_the_line_starts_again(backend: Backend, tenant: str) -> None:
    assert await _read(backend, tenant, _event("signup", "old1", "dv-o", 0)) == (1, 1)
    assert await _read(backend, tenant, _event("signup", "old2", "dv-o", 1)) == (2, 1)
    assert await _read(backend, tenant, _event("signup", "new", "dv-n", 32)) == (1, 1)
