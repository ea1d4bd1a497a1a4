"""``subnet.signup_accounts_24h`` / ``subnet.signup_models_24h``: a network's sign-ups today and their Android models.

1411/1412 (rules/risk/device_farms.yaml) pass a model's wave on a network where many people sign
up, each on their own phone: a campus or an office, whatever its shape (a NAT's few exits, a
proxy's one address, IPv6 /64s). A rack's or a cloud image's accounts report one to three models.
The farmer controls the user agent: other case or spacing, the same account signing up twice, an
iPhone's agent (no model) or none; none of that adds a model, and a claim or an order adds nothing.
"""

from __future__ import annotations

import random
from datetime import timedelta

from feature_backends import Backend
from feature_oracle import Oracle
from feature_stream import START

from engine.events import Event
from engine.features.spec import Aggregate, Entity, WindowedFeature

ACCOUNTS = WindowedFeature(
    name="subnet.signup_accounts_24h",
    aggregate=Aggregate.DISTINCT,
    by=Entity.SUBNET,
    window_seconds=86400,
    on=frozenset({"signup", "referral"}),
    field="customer",
)
MODELS = WindowedFeature(
    name="subnet.signup_models_24h",
    aggregate=Aggregate.DISTINCT,
    by=Entity.SUBNET,
    window_seconds=86400,
    on=frozenset({"signup", "referral"}),
    field="device_model",
)
SPECS = (ACCOUNTS, MODELS)
DAY = 86400.0
_n = iter(range(100_000))

OPPO = "Mozilla/5.0 (Linux; Android 14; PHM110 Build/UKQ1.230924.001; wv) AppleWebKit/537.36 MicroMessenger/8.0.47"
REDMI = "Mozilla/5.0 (Linux; U; Android 11; zh-cn; M2007J22C Build/RP1A.200720.011) MicroMessenger/8.0.40"
VIVO = "Mozilla/5.0 (Linux; Android 14; V2309A Build/VIVO14; wv) MicroMessenger/8.0.47"
HONOR = "Mozilla/5.0 (Linux; Android 14; PGT-AN10 Build/HONOR14; wv) MicroMessenger/8.0.47"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.50"
CAMPUS = "60.177.224.82"


def _event(kind: str, customer: str, user_agent: str | None, seconds: float, ip: str | None = CAMPUS) -> Event:
    return Event(
        event_id=f"nm{next(_n)}",
        type=kind,
        customer=customer,
        device=f"d{next(_n)}",
        ip=ip,
        campaign="newcomer_gift" if kind == "coupon_claim" else None,
        attributes={} if user_agent is None else {"user_agent": user_agent},
        timestamp=START + timedelta(seconds=seconds),
    )


async def _read(backend: Backend, tenant: str, event: Event) -> tuple[object, object]:
    values = (await backend.store().record_and_read(tenant=tenant, event=event, specs=SPECS)).values
    return values[ACCOUNTS.name], values[MODELS.name]


async def test_a_rack_is_one_model_whatever_its_ids_and_a_campus_many(backend: Backend, tenant: str) -> None:
    # attack: a rack of one model signs up twenty accounts on its line, the model's case changed
    # now and then, an account signing up twice; claims in between
    for n in range(20):
        agent = OPPO if n % 3 else OPPO.replace("PHM110", "phm110")
        seen = await _read(backend, tenant, _event("signup", f"rack{n % 18}", agent, 30 * n, ip="47.92.13.5"))
        await _read(backend, tenant, _event("coupon_claim", f"rack{n % 18}", REDMI, 30 * n + 5, ip="47.92.13.5"))
    assert seen == (18, 1)
    # a campus lunch wave on its NAT (two exits on one /24): popular phones, iPhones, no agent
    agents = [OPPO, REDMI, VIVO, HONOR, IPHONE, None]
    for n in range(12):
        ip = CAMPUS if n % 2 else "60.177.224.9"
        seen = await _read(backend, tenant, _event("signup", f"s{n}", agents[n % 6], 60 * n, ip=ip))
    assert seen == (12, 4)
    # an IPv6 campus: addresses of one /64 are one network
    for n in range(3):
        seen = await _read(backend, tenant, _event("referral", f"v{n}", agents[n], n, ip=f"240e:3a1:1c2:8f01::{n + 1}"))
    assert seen == (3, 3)
    # a day later the wave has left the window
    assert await _read(backend, tenant, _event("signup", "late", OPPO, DAY + 800)) == (1, 1)


async def test_the_day_matches_a_brute_force_count(backend: Backend, tenant: str) -> None:
    """Random sign-ups, referrals, claims and orders on a few networks, models and accounts against the oracle."""
    rng, oracle, store = random.Random(14), Oracle(), backend.store()
    agents = [OPPO, REDMI, VIVO, HONOR, IPHONE, None]
    ips = [CAMPUS, "60.177.224.9", "115.236.20.8", "240e:3a1:1c2:8f01::7", "240e:3a1:1c2:8f02::7", None]
    t = 0.0
    for _ in range(300):
        t += rng.choice((30, 600, 3600, DAY / 3, DAY))
        kind = rng.choice(("signup", "referral", "coupon_claim", "order"))
        event = _event(kind, f"c{rng.randrange(30)}", rng.choice(agents), t, ip=rng.choice(ips))
        want = oracle.values(SPECS, event)
        got = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
        assert {name: got[name] for name in want} == want, (t, event)
        oracle.log.append(event)
