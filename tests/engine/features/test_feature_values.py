"""Every feature kind, on a random stream, equals a brute-force recomputation from the raw log."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import pytest
from feature_backends import Backend
from feature_oracle import Oracle
from feature_stream import APPROX, SPECS, START, event_stream

from engine.events import OUTCOME_TYPES, Event
from engine.features.entity_hash import DISTINCT_CAP
from engine.features.spec import Aggregate, Entity, ListKind, WindowedFeature
from engine.features.streams import bucket_width_s


def _close(expected: object, got: object) -> bool:
    if isinstance(expected, float) or isinstance(got, float):
        return (
            expected is not None
            and got is not None
            and math.isclose(
                float(expected),
                float(got),
                rel_tol=1e-9,
                abs_tol=1e-6,  # type: ignore[arg-type]
            )
        )
    return expected == got and type(expected) is type(got)


@pytest.mark.parametrize("seed", [1, 2])
async def test_stream_matches_brute_force(backend: Backend, tenant: str, seed: int) -> None:
    store, oracle = backend.store(), Oracle()
    await store.add_entry(tenant=tenant, entity=Entity.DEVICE, value="dev-3", kind=ListKind.BLOCK,
                          reason="emulator farm", author="risk-team")  # fmt: skip
    await store.add_entry(tenant=tenant, entity=Entity.PHONE, value="17012345678", kind=ListKind.WATCH,
                          reason="virtual number", author="risk-team")  # fmt: skip
    # events carry E.164: the listed bare number is that phone (engine/phones.py)
    oracle.listed = {(Entity.DEVICE, "dev-3"): {"block"}, (Entity.PHONE, "+8617012345678"): {"watch"}}
    approx = {s.name: s for s in SPECS if s.name in APPROX}
    by_name = {s.name: s for s in SPECS}
    over: set[str] = set()
    mismatches: list[str] = []
    for n, event in enumerate(event_stream(seed, 240)):
        if event.type in OUTCOME_TYPES:
            assert await store.record_outcome(tenant=tenant, event=event, specs=SPECS)
            oracle.log.append(event)
            continue
        expected = oracle.values(SPECS, event)
        got = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
        for name, want in expected.items():
            if name in approx:
                spec = approx[name]
                assert isinstance(spec, WindowedFeature) and spec.window_seconds
                window = spec.window_seconds * 1000
                low = oracle.distinct_between(spec, event, window) if want is not None else None
                high = oracle.distinct_between(spec, event, window + window // 8 + 1)
                value = got[name]
                if low is None:
                    ok = value is None
                else:
                    ok = value is not None and low * 0.97 - 1 <= int(value) <= high * 1.03 + 1
                if not ok:
                    mismatches.append(f"#{n} {event.type} {name}: {value} outside [{low}, {high}]")
            elif (spec := by_name[name]) and isinstance(spec, WindowedFeature) and spec.bucketed:
                # the stated bound: between the exact value over W and over W + one bucket width
                assert spec.window_seconds
                width = bucket_width_s(spec.window_seconds)
                wider = dataclasses.replace(spec, window_seconds=spec.window_seconds + width)
                high = oracle.windowed(wider, event, list(oracle.log))
                value = got[name]
                inside = want is None and value is None
                if want is not None and value is not None and high is not None:
                    typed = isinstance(value, int) == (spec.aggregate is Aggregate.COUNT)
                    inside = typed and float(want) - 1e-6 <= float(value) <= float(high) + 1e-6
                if not inside:
                    mismatches.append(f"#{n} {event.type} {name}: {value!r} outside [{want!r}, {high!r}]")
                if want != value:
                    over.add(name)
            elif not _close(want, got[name]):
                mismatches.append(f"#{n} {event.type} {name}: expected {want!r}, got {got[name]!r}")
        oracle.log.append(event)
    assert not mismatches, "\n".join(mismatches[:30])
    assert over, "the stream never reached a bucket's trailing edge: the bound above was not exercised"


async def test_window_edges_are_exclusive_at_the_start_and_inclusive_at_the_end(backend: Backend, tenant: str) -> None:
    spec = next(s for s in SPECS if s.name == "device.signups_30m")
    store = backend.store()

    async def signup(n: int, offset: timedelta) -> object:
        event = Event(event_id=f"edge{n}", type="signup", customer=f"c{n}", device="d", timestamp=START + offset)
        return (await store.record_and_read(tenant=tenant, event=event, specs=(spec,))).values[spec.name]

    assert await signup(0, timedelta(0)) == 1
    assert await signup(1, timedelta(minutes=29, seconds=59, milliseconds=999)) == 2
    assert await signup(2, timedelta(minutes=30)) == 2  # the first one is exactly 30 min old: out
    assert await signup(3, timedelta(minutes=30)) == 3  # same instant: both in
    assert await signup(4, timedelta(minutes=60)) == 1  # the two at 0:30 are exactly 30 min old


async def test_bucketed_window_over_counts_at_most_one_bucket_before_its_start(backend: Backend, tenant: str) -> None:
    """30 min in 1-minute buckets: an event 30.5 min old may count (its bucket overlaps), one 31+ min old never."""
    spec = next(s for s in SPECS if s.name == "device.signups_30m_buckets")
    assert isinstance(spec, WindowedFeature) and bucket_width_s(1800) == 60
    store = backend.store()
    base = START + timedelta(seconds=10)  # 10 s into a minute bucket

    async def signup(n: int, offset: timedelta) -> object:
        event = Event(event_id=f"bk{n}", type="signup", customer=f"c{n}", device="d", timestamp=base + offset)
        return (await store.record_and_read(tenant=tenant, event=event, specs=(spec,))).values[spec.name]

    assert await signup(0, timedelta(0)) == 1
    assert await signup(1, timedelta(minutes=30, seconds=20)) == 2  # 30m20s old, its bucket overlaps: counted
    assert await signup(2, timedelta(minutes=30, seconds=51)) == 2  # the first one's bucket is now out
    assert await signup(3, timedelta(minutes=61, seconds=50)) == 1  # more than 31 min after #1 and #2


async def test_distinct_windows_are_exact_up_to_the_cap_and_read_the_cap_past_it(backend: Backend, tenant: str) -> None:
    """A farm device with 100 accounts: each window reads min(exact, DISTINCT_CAP), a returning account once.

    The entity hash keeps the newest ``DISTINCT_CAP`` values of a stream by their latest
    sight, so a window holding at most that many is exact (the 1 h one: 20), and a wider
    one reads the cap: enough for every threshold the shipped pack sets (at most 20).
    """
    specs = tuple(s for s in SPECS if s.name in ("device.accounts_1h", "device.accounts_6h"))
    assert len(specs) == 2
    store, oracle = backend.store(), Oracle()
    mismatches: list[str] = []
    capped = 0
    for n in range(150):
        customer = f"farm{n % 100}" if n < 120 else f"farm{(n * 7) % 100}"  # 100 accounts, then returning ones
        at = START + timedelta(minutes=3 * n)  # 7.5 h: the 1 h window holds 20, the 6 h one up to 100
        event = Event(event_id=f"cap{n}", type="signup", customer=customer, device="locker", timestamp=at)
        expected = oracle.values(specs, event)
        got = (await store.record_and_read(tenant=tenant, event=event, specs=specs)).values
        oracle.log.append(event)
        for name, want in expected.items():
            assert isinstance(want, int)
            capped += want > DISTINCT_CAP
            if got[name] != min(want, DISTINCT_CAP):
                mismatches.append(f"#{n} {name}: {got[name]} != min({want}, {DISTINCT_CAP})")
    assert not mismatches, "\n".join(mismatches[:20])
    assert capped > 50  # the cap was reached and held


async def test_a_future_dated_event_drops_nothing_a_window_still_holds(backend: Backend, tenant: str) -> None:
    """A caller dates one event an hour ahead (clamped to now + 5 min): the events of the window before it still count.

    10 min in 15 s buckets and 10 min of distinct accounts, on one ip: the ring and the
    distinct stream keep what any read at a time up to the skew before their newest
    write can see, so a farm cannot wipe its ip's counters with one late-dated event.
    """
    specs = (
        WindowedFeature(
            name="ip.signups_10m", aggregate=Aggregate.COUNT, by=Entity.IP, window_seconds=600, on=frozenset({"signup"})
        ),
        WindowedFeature(
            name="ip.accounts_10m",
            aggregate=Aggregate.DISTINCT,
            by=Entity.IP,
            window_seconds=600,
            on=frozenset(),
            field="customer",
        ),
    )
    store = backend.store()
    now = datetime.now(UTC)

    async def signup(n: int, at: datetime) -> dict[str, object]:
        event = Event(event_id=f"skew{n}", type="signup", customer=f"c{n}", ip="10.1.2.3", timestamp=at)
        return dict((await store.record_and_read(tenant=tenant, event=event, specs=specs)).values)

    for n in range(4):  # 9.5 .. 8 minutes ago
        await signup(n, now - timedelta(minutes=9, seconds=30) + timedelta(seconds=30 * n))
    await signup(4, now + timedelta(hours=1))
    # the late-dated signup was stored before this one: it counts, in the count as in the distinct (a burst
    # dated backwards cannot hide from itself: test_redteam_skew.py)
    assert await signup(5, now) == {"ip.signups_10m": 6, "ip.accounts_10m": 6}


async def test_a_huge_attribute_adds_nothing_and_breaks_no_later_read(backend: Backend, tenant: str) -> None:
    """A caller controls ``attributes``: a 400-digit integer or two 1e308s neither fail the event nor poison the sum.

    Before, the first raised OverflowError in the worker and the second stored an
    infinite sum that failed every later event of that customer in the script.
    """
    spec = WindowedFeature(name="customer.points_1h", aggregate=Aggregate.SUM, by=Entity.CUSTOMER, window_seconds=3600,
                           on=frozenset(), field="attr.points")  # fmt: skip
    store = backend.store()
    sums = []
    for n, points in enumerate([10**400, 1e308, 1e308, 5, 2.5]):
        event = Event(event_id=f"pts{n}", type="signup", customer="c1", attributes={"points": points},
                      timestamp=START + timedelta(minutes=n))  # fmt: skip
        sums.append((await store.record_and_read(tenant=tenant, event=event, specs=(spec,))).values[spec.name])
    assert sums == [0.0, 0.0, 0.0, 5.0, 7.5]
