"""``group.packet_age_s``: how long ago the staff sent a red packet into the group, on a real Redis and a real cluster.

A script straight at the claim API (协议抢) may fake ``attr.claim_ms`` to look like a
thumb; the server still knows when the packet was sent (``red_packet_sent``, an outcome
the storefront or WeCom reports), and a packet cannot have been on a screen longer than it
has existed (rules/risk/red_packets.yaml, ``red_packet_claim_time_impossible``).
"""

from __future__ import annotations

from datetime import timedelta

from feature_backends import Backend
from feature_stream import START

from engine.events import Event
from engine.features.spec import Aggregate, Entity, TimeUnit, WindowedFeature

AGE = WindowedFeature(
    name="group.packet_age_s",
    aggregate=Aggregate.LAST_SEEN,
    by=Entity.GROUP,
    window_seconds=None,
    on=frozenset({"red_packet_sent"}),
    unit=TimeUnit.SECONDS,
)
SPECS = (AGE,)
_n = iter(range(10_000))


def _event(kind: str, customer: str, group: str, seconds: float) -> Event:
    return Event(
        event_id=f"pa{next(_n)}",
        type=kind,
        customer=customer,
        group=group,
        campaign="red_packet_rain",
        timestamp=START + timedelta(seconds=seconds),
    )


async def _age_at_claim(backend: Backend, tenant: str, group: str, seconds: float) -> object:
    store = backend.store()
    claim = _event("red_packet_claim", f"m{next(_n)}", group, seconds)
    return (await store.record_and_read(tenant=tenant, event=claim, specs=SPECS)).values[AGE.name]


async def test_a_claim_reads_how_long_ago_the_packet_was_sent(backend: Backend, tenant: str) -> None:
    store = backend.store()
    assert await _age_at_claim(backend, tenant, "g1", 0) is None  # no packet on record: missing, never "fast"
    await store.record_outcome(tenant=tenant, event=_event("red_packet_sent", "staff", "g1", 10), specs=SPECS)
    assert await _age_at_claim(backend, tenant, "g1", 11.5) == 1.5
    # a claim is not a packet: claims after it do not restart the packet's clock
    assert await _age_at_claim(backend, tenant, "g1", 13.0) == 3.0
    # the next packet restarts it; another group has its own
    await store.record_outcome(tenant=tenant, event=_event("red_packet_sent", "staff", "g1", 100), specs=SPECS)
    assert await _age_at_claim(backend, tenant, "g1", 100.4) == 0.4
    assert await _age_at_claim(backend, tenant, "g2", 100.4) is None
