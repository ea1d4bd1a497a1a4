"""``device_model``: new devices of one Android model and build (a rack, cloud phones), on a real Redis and a cluster.

A rack of phones driven from one box (群控) is mostly one cheap model; a cloud-phone provider's
instances (云手机) report the few models and builds of its images, each with a device id of its
own. The farmer controls the user agent: he may send it with other spacing or case, send the
same instance twice, or leave the model out; none of that counts a device twice or makes a
model rare. iPhones name no model: an iPhone wave is never one model.
"""

from __future__ import annotations

import random

import pytest
from agent_events import agent_event
from feature_backends import Backend
from feature_oracle import Oracle

from engine.events import Event
from engine.features.keys import entity_value
from engine.features.spec import Aggregate, Entity, WindowedFeature
from engine.identity.device_models import device_model

TEN_MINUTES = WindowedFeature(
    name="device_model.new_devices_10m",
    aggregate=Aggregate.DISTINCT,
    by=Entity.DEVICE_MODEL,
    window_seconds=600,
    on=frozenset({"signup", "referral"}),
    field="device",
)
HOUR = WindowedFeature(
    name="device_model.new_devices_1h",
    aggregate=Aggregate.DISTINCT,
    by=Entity.DEVICE_MODEL,
    window_seconds=3600,
    on=frozenset({"signup", "referral"}),
    field="device",
)
SPECS = (TEN_MINUTES, HOUR)

OPPO = "Mozilla/5.0 (Linux; Android 14; PHM110 Build/UKQ1.230924.001; wv) AppleWebKit/537.36 MicroMessenger/8.0.47"
OPPO_OTHER_BUILD = OPPO.replace("UKQ1.230924.001", "TP1A.220905.001")
REDMI = "Mozilla/5.0 (Linux; U; Android 11; zh-cn; M2007J22C Build/RP1A.200720.011) MicroMessenger/8.0.40"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.50"


def _event(kind: str, device: str, user_agent: str | None, seconds: float, customer: str | None = None) -> Event:
    """Sign up (or claim) from this device, with no ip; a new customer per event unless named."""
    return agent_event("mdl", kind, user_agent, seconds, customer=customer, device=device)


async def _read(backend: Backend, tenant: str, event: Event) -> tuple[object, object]:
    values = (await backend.store().record_and_read(tenant=tenant, event=event, specs=SPECS)).values
    return values[TEN_MINUTES.name], values[HOUR.name]


@pytest.mark.parametrize(
    ("user_agent", "model"),
    [
        (OPPO, "phm110 ukq1.230924.001"),
        (REDMI, "m2007j22c rp1a.200720.011"),  # the older `U; zh-cn;` form
        (OPPO.replace("PHM110", "phm110"), "phm110 ukq1.230924.001"),  # case does not make a new model
        ("Mozilla/5.0 (Linux; Android 13; MI 9 Build/QKQ1.190825.002; wv)", "mi 9 qkq1.190825.002"),
        (IPHONE, None),  # an iPhone names its iOS version, not its model
        ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X)", None),
        ("Mozilla/5.0 (Linux; Android 13) MicroMessenger/8.0.47", None),  # no model: missing, never "rare"
        ("okhttp/3.12.1", None),
        ("", None),
    ],
)
def test_the_model_and_build_are_read_from_an_android_user_agent(user_agent: str, model: str | None) -> None:
    assert device_model(user_agent) == model
    assert entity_value(_event("signup", "d", user_agent, 0), Entity.DEVICE_MODEL) == model


async def test_a_rack_of_one_model_counts_each_new_device_once(backend: Backend, tenant: str) -> None:
    # attack: a rack signs up one account per phone 30 s apart, then each claims the gift on the same phone
    seen = []
    for n in range(8):
        seen.append(await _read(backend, tenant, _event("signup", f"rack{n}", OPPO, 30 * n, customer=f"r{n}")))
        await _read(backend, tenant, _event("coupon_claim", f"rack{n}", OPPO, 30 * n + 5, customer=f"r{n}"))
    assert seen == [(n, n) for n in range(1, 9)]
    # the same instance signing up a second account is no new device; a claim reads the wave it sits in
    assert await _read(backend, tenant, _event("referral", "rack0", OPPO, 300)) == (8, 8)
    assert await _read(backend, tenant, _event("coupon_claim", "rack7", OPPO, 301, customer="r7")) == (8, 8)
    # at 660 s the phones that signed up at 0-60 s have left the short window (rack0 was seen again at 300 s)
    assert await _read(backend, tenant, _event("signup", "rack8", OPPO, 660)) == (7, 9)


async def test_other_builds_iphones_and_missing_models_count_apart(backend: Backend, tenant: str) -> None:
    # honest look-alike: a city's parents on one popular model but several OS builds, and an iPhone wave
    assert await _read(backend, tenant, _event("signup", "p1", OPPO, 0)) == (1, 1)
    assert await _read(backend, tenant, _event("signup", "p2", OPPO_OTHER_BUILD, 10)) == (1, 1)
    for n in range(10):
        assert await _read(backend, tenant, _event("signup", f"i{n}", IPHONE, 20 + n)) == (None, None)
    assert await _read(backend, tenant, _event("signup", "p3", None, 40)) == (None, None)
    assert await _read(backend, tenant, _event("signup", "p4", OPPO, 50)) == (2, 2)


async def test_the_windows_match_a_brute_force_count(backend: Backend, tenant: str) -> None:
    """Random sign-ups, referrals and claims on a few models and devices against the oracle's definition."""
    rng, oracle, store = random.Random(9), Oracle(), backend.store()
    agents = [OPPO, OPPO_OTHER_BUILD, REDMI, IPHONE, None]
    t = 0.0
    for _ in range(300):
        t += rng.choice((1, 20, 60, 200, 600))
        kind = rng.choice(("signup", "referral", "coupon_claim", "red_packet_claim"))
        event = _event(kind, f"d{rng.randrange(40)}", rng.choice(agents), t)
        want = oracle.values(SPECS, event)
        got = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
        assert {name: got[name] for name in want} == want, (t, event)
        oracle.log.append(event)
