"""Red team, session 7: a burst dated backwards inside the accepted clock skew hides from its own windows.

An event's time is accepted within ±300 s of the server's clock, and every window was
read as (t - W, t] at the event's own time. A farm sending its red-packet claims from one
IP at once, each dated a few seconds *before* the previous one (from +290 s down to -290 s),
had every claim read a window holding only itself: ``ip.red_packets_10m`` said 1 at the
25th claim, and ``red_packet_ip_burst`` (20 in 10 minutes) never fired. Dating half the
claims ahead and half behind split one burst into two invisible halves the same way.

A window now counts every event already recorded that is dated after its start (nothing
dated later than the skew can be stored), and starts at W before the earlier of the event's
time and the server's clock: what arrived before an event is seen by it, however both
were dated. Real Redis, one server and the cluster, the shipped pack.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from feature_backends import Backend

from engine.events import Event
from engine.features.spec import Aggregate, Entity, WindowedFeature
from tests.engine.features.test_referrer_paid import World

BURST = "red_packet_ip_burst"
COUNT = "ip.red_packets_10m"
ORDERS = {
    "ascending": [-290 + 20 * k for k in range(25)],
    "descending": [290 - 20 * k for k in range(25)],
    "alternating": [(-290 if k % 2 else 290) - k for k in range(25)],
}


@pytest.mark.parametrize("order", list(ORDERS))
async def test_a_burst_is_counted_however_its_claims_are_dated(backend: Backend, tenant: str, order: str) -> None:
    world = World(backend.client, tenant)
    now = datetime.now(UTC)
    seen = []
    for k, offset in enumerate(ORDERS[order]):
        evaluation = await world.send(
            type="red_packet_claim",
            customer=f"acct{k}",
            device=f"dv{k}",
            ip="36.1.1.7",
            amount=5,
            group="parents-1",
            campaign="weekly_welfare",
            attributes={"claim_ms": 3000},
            timestamp=now + timedelta(seconds=offset),
        )
        assert evaluation is not None
        seen.append(world.values[COUNT])
    assert seen == list(range(1, 26))
    assert BURST in evaluation.rule_ids and evaluation.decision != "allow"


async def test_an_approximate_distinct_counts_a_burst_dated_backwards_too(backend: Backend, tenant: str) -> None:
    spec = WindowedFeature(
        name="ip.accounts_1h_approx",
        aggregate=Aggregate.DISTINCT,
        by=Entity.IP,
        window_seconds=3600,
        on=frozenset(),
        field="customer",
        approx=True,
    )
    store = backend.store()
    now = datetime.now(UTC)
    seen = []
    for k in range(12):
        at = now + timedelta(seconds=290 - 50 * k)
        event = Event(event_id=f"hll{k}", type="signup", customer=f"acct{k}", ip="36.1.1.8", timestamp=at)
        seen.append((await store.record_and_read(tenant=tenant, event=event, specs=(spec,))).values[spec.name])
    assert seen == list(range(1, 13))


async def test_a_replayed_log_dated_after_the_hosts_clock_slides_its_windows_on_its_own_times(
    backend: Backend, tenant: str
) -> None:
    """Replay's store reads windows at each event's own time: a log dated a month ahead (a simulated
    December) does not read its later events into earlier windows, as the API's skew guard would."""
    from engine.features.store import FeatureStore
    from engine.replay.sandbox import REPLAY_SETTINGS

    spec = WindowedFeature(
        name="ip.signups_10m", aggregate=Aggregate.COUNT, by=Entity.IP, window_seconds=600, on=frozenset()
    )
    ahead = datetime.now(UTC) + timedelta(days=30)
    seen = {}
    replay = FeatureStore(backend.client, secret=b"replay-secret-0123456789", settings=REPLAY_SETTINGS)
    for name, store in (("replay", replay), ("api", backend.store())):
        counts = []
        for k in range(3):  # one sign-up an hour from one IP: never two in ten minutes
            at = ahead + timedelta(hours=k)
            event = Event(event_id=f"{name}{k}", type="signup", customer=f"{name}{k}", ip=f"36.9.9.{len(name)}",
                          timestamp=at)  # fmt: skip
            counts.append((await store.record_and_read(tenant=tenant, event=event, specs=(spec,))).values[spec.name])
        seen[name] = counts
    assert seen["replay"] == [1, 1, 1]
    assert seen["api"] == [1, 2, 3]  # the API's clock guard: what arrived before an event dated ahead is seen
