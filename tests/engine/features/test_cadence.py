"""``cadence``: the longest machine-regular run of a stream's sightings ending at the event.

A cloud-phone rack's scheduler signs up one account every so many seconds, give or take a
second, across images, device ids and exits (engine/features/cadence.py). Checked: the
reference on the tactic and its honest look-alikes, then plan.lua against a brute-force
recomputation (the newest 32 values' latest sightings, fed to the reference) on random
streams mixing a clock with random traffic, on one server and the cluster.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from feature_backends import Backend
from feature_oracle import Oracle
from feature_stream import START

from engine.events import Event
from engine.features.cadence import cadence
from engine.features.spec import Aggregate, Entity, WindowedFeature

ANDROID = "Mozilla/5.0 (Linux; Android 10; SM-G9860 Build/QP1A.190711.020; wv) MicroMessenger/8.0.47"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) MicroMessenger/8.0.44"
SIGNUPS = WindowedFeature(
    "platform.signup_cadence_1h", Aggregate.CADENCE, Entity.PLATFORM, 3600, frozenset({"signup", "referral"}), "device"
)
CLAIMS = WindowedFeature(
    "campaign.claim_cadence_1h", Aggregate.CADENCE, Entity.CAMPAIGN, 3600, frozenset({"coupon_claim"}), "customer"
)
# the distinct count of the same stream: one field of the hash serves both
DEVICES = WindowedFeature(
    "platform.new_devices_1h", Aggregate.DISTINCT, Entity.PLATFORM, 3600, frozenset({"signup", "referral"}), "device"
)
# the newcomer claims per platform (session 14, 1417): the script claims at its fixed delay after each sign-up
PLATFORM_CLAIMS = WindowedFeature(
    "platform.claim_cadence_1h", Aggregate.CADENCE, Entity.PLATFORM, 3600, frozenset({"coupon_claim"}), "device"
)
SPECS = (SIGNUPS, CLAIMS, DEVICES, PLATFORM_CLAIMS)
_n = iter(range(1_000_000))


def _clock(period: float, jitter: float, count: int, seed: int = 0, start: float = 0) -> list[int]:
    rng, at, out = random.Random(seed), start, []
    for _ in range(count):
        at += period + rng.uniform(-jitter, jitter)
        out.append(int(at * 1000))
    return out


def _run_at_end(times: list[int]) -> int:
    return cadence(times[:-1], times[-1], times[-1] - 3_600_000)


def test_a_scheduler_with_a_second_of_jitter_is_one_run() -> None:
    for period in (20, 64, 130, 240):
        times = _clock(period, 1.5, 12, seed=period)
        assert [_run_at_end(times[: k + 1]) for k in range(len(times))] == list(range(1, 13))


def test_jitter_does_not_add_up_along_the_run() -> None:
    times = _clock(64, 1.4, 30, seed=3)  # 30 steps: the run's end is 40 s off a straight 64 s grid
    assert _run_at_end(times) == 30


def test_random_arrivals_rarely_make_a_run_of_five() -> None:
    rng, runs = random.Random(7), 0
    for _ in range(1000):
        at, times = 0.0, []
        for _ in range(20):  # a parents' evening: one sign-up every three minutes on average, at random
            at += rng.expovariate(1 / 180)
            times.append(int(at * 1000))
        runs += _run_at_end(times) >= 5
    assert runs <= 5  # one in a thousand on this seed


def test_a_dense_wave_does_not_count_its_chance_runs() -> None:
    # thirty sign-ups on a campus NAT in twenty minutes: some gap always finds a sign-up near it
    rng = random.Random(11)
    times = sorted(int(rng.uniform(0, 1200) * 1000) for _ in range(30))
    assert _run_at_end(times) < 5


def test_a_script_among_honest_sign_ups_still_shows() -> None:
    rng = random.Random(5)
    honest = [int(rng.uniform(0, 900) * 1000) for _ in range(5)]
    script = _clock(90, 1.0, 8, seed=2)
    times = [*sorted(honest + script[:-1]), script[-1]]
    assert _run_at_end(times) == 8


def test_gaps_outside_ten_seconds_to_ten_minutes_are_no_clock() -> None:
    # a burst's 5 s steps are no gap of their own; every other one stands at 10 s (a clock all the same)
    assert _run_at_end(_clock(5, 0.1, 3)) == 2
    assert _run_at_end(_clock(5, 0.1, 10)) == 5
    assert _run_at_end(_clock(900, 1, 5)) == 1  # one every quarter hour: no run within reach


def test_sightings_dated_after_the_event_or_before_the_window_are_left_out() -> None:
    times = _clock(60, 0.5, 6)
    t = times[-1]
    assert cadence([*times[:-1], t + 60_000], t, t - 3_600_000) == 6
    assert cadence(times[:-1], t, times[2]) == 3  # the window starts after the third


def _event(kind: str, seconds: float, rng: random.Random, **fields: object) -> Event:
    return Event(
        event_id=f"cad{next(_n)}",
        type=kind,
        customer=f"c{rng.randrange(60)}",
        device=f"d{rng.randrange(60)}",
        timestamp=START + timedelta(seconds=seconds),
        **fields,  # type: ignore[arg-type]
    )


def _stream(seed: int, count: int) -> list[Event]:
    """A clock (period, jitter and start per seed) among random sign-ups and claims, some with equal times."""
    rng = random.Random(seed)
    period, jitter = rng.uniform(15, 200), rng.uniform(0, 3)
    clock = iter(_clock(period, jitter, count, seed=seed, start=rng.uniform(0, 600)))
    events, at = [], 0.0
    for _ in range(count):
        if rng.random() < 0.5:
            at = max(at, next(clock) / 1000)
        else:
            at += rng.choice((0.0, 0.5, rng.expovariate(1 / 60)))
        kind = rng.choice(("signup", "referral", "coupon_claim", "order"))
        agent = rng.choice((ANDROID, ANDROID, IPHONE, None))
        events.append(
            _event(
                kind,
                at,
                rng,
                campaign=rng.choice(("newcomer_gift", "trial_99", None)),
                attributes={} if agent is None else {"user_agent": agent},
            )
        )
    return events


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_cadence_matches_brute_force(backend: Backend, tenant: str, seed: int) -> None:
    store, oracle = backend.store(), Oracle()
    for event in _stream(seed, 220):
        expected = oracle.values(SPECS, event)
        if isinstance(count := expected[DEVICES.name], int):
            expected[DEVICES.name] = min(count, 32)  # the stream's cap (docs/features.md): reads 32 beyond it
        got = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
        assert {name: got[name] for name in expected} == expected, event
        oracle.log.append(event)


async def test_a_rack_across_images_and_exits_reads_its_run(backend: Backend, tenant: str) -> None:
    # five images, a mobile proxy per account: one platform, one clock
    store = backend.store()
    models = ("SM-G9860 Build/SAMSUNG10.993", "V1916A Build/VIVO10.579", "PCLM10 Build/OPPO10.730")
    seen = []
    for k, ms in enumerate(_clock(128, 2.5, 7, seed=9)):
        agent = f"Mozilla/5.0 (Linux; Android 10; {models[k % 3]}; wv) MicroMessenger/8.0.47"
        signup = Event(
            event_id=f"rack{k}",
            type="signup",
            customer=f"rack-c{k}",
            device=f"rack-d{k}",
            ip=f"223.104.{k}.9",
            timestamp=START + timedelta(milliseconds=ms),
            attributes={"user_agent": agent},
        )
        values = (await store.record_and_read(tenant=tenant, event=signup, specs=SPECS)).values
        seen.append(values[SIGNUPS.name])
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    assert values[DEVICES.name] == 7


async def test_a_rack_claims_on_its_clock_across_images(backend: Backend, tenant: str) -> None:
    # attack (session 14): each instance claims the newcomer gift a fixed 40 s after its sign-up, give or
    # take its jitter; iPhones claiming in between keep a stream of their own (no run there), a claim
    # without an agent has no platform
    store = backend.store()
    models = ("SM-G9860 Build/SAMSUNG10.993", "V1916A Build/VIVO10.579")
    seen = []
    for k, ms in enumerate(_clock(90, 2.0, 6, seed=4)):
        agent = f"Mozilla/5.0 (Linux; Android 10; {models[k % 2]}; wv) MicroMessenger/8.0.47"
        claim = Event(
            event_id=f"rackc{k}",
            type="coupon_claim",
            customer=f"rackc-c{k}",
            device=f"rackc-d{k}",
            campaign="newcomer_gift",
            timestamp=START + timedelta(milliseconds=ms + 40_000),
            attributes={"user_agent": agent},
        )
        iphone = Event(
            event_id=f"rackc-i{k}",
            type="coupon_claim",
            customer=f"parent{k}",
            device=f"parent-d{k}",
            campaign="newcomer_gift",
            timestamp=START + timedelta(milliseconds=ms + 45_000 + 9_000 * k * k),  # parents at random
            attributes={"user_agent": IPHONE},
        )
        seen.append((await store.record_and_read(tenant=tenant, event=claim, specs=SPECS)).values[PLATFORM_CLAIMS.name])
        assert (await store.record_and_read(tenant=tenant, event=iphone, specs=SPECS)).values[PLATFORM_CLAIMS.name] <= 2
    assert seen == [1, 2, 3, 4, 5, 6]
    bare = Event(event_id="rackc-bare", type="coupon_claim", customer="x", device="x", timestamp=START)
    assert (await store.record_and_read(tenant=tenant, event=bare, specs=SPECS)).values[PLATFORM_CLAIMS.name] is None
