"""Linked-account features on the real store (one server and the 3-master cluster) against the oracle."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from feature_backends import Backend
from link_oracle import LinkOracle

from engine.events import OUTCOME_TYPES, Event
from engine.features.spec import Entity, FeatureSpec, LinkFeature, LinkMetric, TimeUnit

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
D = 86400
VIA = (Entity.ADDRESS, Entity.DEVICE, Entity.PHONE)
WEAK = ((Entity.IP, 3600),)


def _link(name: str, metric: LinkMetric, window: int, **kw: object) -> LinkFeature:
    return LinkFeature(name, metric, window, VIA, WEAK, 3, **kw)  # type: ignore[arg-type]


SPECS: tuple[FeatureSpec, ...] = (
    _link("customer.linked_accounts_3d", LinkMetric.ACCOUNTS, 3 * D),
    _link("customer.linked_accounts_1d", LinkMetric.ACCOUNTS, D),
    _link("customer.link_hubs_3d", LinkMetric.HUBS, 3 * D),
    _link("customer.linked_new_share_3d", LinkMetric.NEW_SHARE, 3 * D, within_seconds=D),
    _link("customer.linked_paid_share_3d", LinkMetric.PAID_SHARE, 3 * D),
    _link("customer.linked_returning_3d", LinkMetric.RETURNING_SHARE, 3 * D, within_seconds=2 * D),
    _link("customer.linked_identities_3d", LinkMetric.IDENTITIES, 3 * D),
    _link("customer.link_age_3d", LinkMetric.LINK_AGE, 3 * D, unit=TimeUnit.HOURS),
)


def stream(seed: int, count: int) -> list[Event]:
    """A family on a tablet, a farm rotating devices behind one address, a parcel locker, strangers."""
    rng = random.Random(seed)
    events: list[Event] = []
    at = START
    for n in range(count):
        at += timedelta(minutes=rng.choice([5, 30, 60, 180, 600]))
        kind = rng.random()
        if kind < 0.3:  # a family of three on one tablet, one home address
            customer, device, address = f"fam{rng.randrange(3)}", "tablet", "12 Garden Rd"
        elif kind < 0.55:  # a farm: one address, a fresh-ish device per account
            k = rng.randrange(5)
            customer, device, address = f"farm{k}", f"fd{(k + rng.randrange(2)) % 6}", "Room 3, Bldg 9"
        elif kind < 0.75:  # a parcel locker everybody ships to: a hub
            customer, device, address = f"loc{rng.randrange(6)}", f"ld{rng.randrange(6)}", "Locker 7"
        else:
            customer, device, address = f"s{rng.randrange(8)}", f"sd{rng.randrange(8)}", None
        fields: dict[str, object] = {
            "event_id": f"e{seed}-{n}", "customer": customer, "device": device, "timestamp": at,
            "ip": f"10.0.{rng.randrange(2)}.{rng.randrange(3)}",
        }  # fmt: skip
        if address is not None and rng.random() < 0.7:
            fields["address"] = address
        if rng.random() < 0.2:
            fields["phone"] = f"1380000000{rng.randrange(4)}"
        fields["type"] = rng.choice(["signup", "coupon_claim", "order", "order_paid", "store_visit"])
        events.append(Event.model_validate(fields))
    return events


def _close(want: object, got: object) -> bool:
    if want is None or got is None:
        return want is got
    return abs(float(want) - float(got)) < 1e-9  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [3, 11])
async def test_link_features_match_brute_force(backend: Backend, tenant: str, seed: int) -> None:
    store, oracle = backend.store(), LinkOracle(window_ms=3 * D * 1000)
    mismatches: list[str] = []
    seen: dict[str, set[object]] = {s.name: set() for s in SPECS}
    for n, event in enumerate(stream(seed, 160)):
        oracle.log.append(event)
        if event.type in OUTCOME_TYPES:
            assert await store.record_outcome(tenant=tenant, event=event, specs=SPECS)
            continue
        got = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
        for spec in SPECS:
            assert isinstance(spec, LinkFeature)
            want = oracle.value(spec, event)
            seen[spec.name].add(want)
            if not _close(want, got[spec.name]):
                mismatches.append(f"#{n} {event.customer} {spec.name}: expected {want!r}, got {got[spec.name]!r}")
    assert not mismatches, "\n".join(mismatches[:30])
    # the stream exercises every feature: more than one value each (a constant would pass by luck)
    assert all(len(values) > 1 for values in seen.values()), seen
