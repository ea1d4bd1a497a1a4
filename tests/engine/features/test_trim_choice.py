"""A caller cannot choose event ids that keep a window's sorted set from ever being trimmed.

Sorted-set windows trim on one write in 8 (engine/features/windows.py ``trims``). When
that one was chosen by the event id's unkeyed digest, a farm that controls its event ids
(every storefront caller does) picked ids that never trim: its device's set then kept
every member it ever wrote, its TTL renewed by each write, growing without bound in the
merchant's Redis. Here the attacker sends 400 events on one device, 10 minutes apart,
each from a new account, with ids that the unkeyed choice never trims; the 1-hour window
holds 6 of them, and the set must stay near that, not keep 400.
"""

from __future__ import annotations

from datetime import timedelta

from feature_backends import SECRET, Backend
from feature_stream import START

from engine.datastore.keys import digest
from engine.events import Event
from engine.features.spec import Aggregate, Entity, WindowedFeature
from engine.features.store import FeatureStore

SPEC = WindowedFeature(
    name="device.accounts_1h",
    aggregate=Aggregate.DISTINCT,
    by=Entity.DEVICE,
    window_seconds=3600,
    field="customer",
    on=frozenset(),
)


def never_trimming_ids(count: int) -> list[str]:
    """Ids whose unkeyed digest starts outside A-H: what the attacker precomputes."""
    found: list[str] = []
    n = 0
    while len(found) < count:
        candidate = f"evt-{n}"
        n += 1
        if digest(candidate)[0] not in "ABCDEFGH":
            found.append(candidate)
    return found


async def test_chosen_event_ids_do_not_stop_the_trims(backend: Backend, tenant: str) -> None:
    store = FeatureStore(backend.client, secret=SECRET)
    for i, event_id in enumerate(never_trimming_ids(400)):
        event = Event(
            event_id=event_id, type="signup", customer=f"farm-{i}", device="farm-tablet",
            timestamp=START + timedelta(minutes=10 * i),
        )  # fmt: skip
        values = await store.record_and_read(tenant=tenant, event=event, specs=(SPEC,))
        assert values.values["device.accounts_1h"] <= 7  # the window's own value is exact either way
    sizes = [await node.zcard(key) for node, key in await backend.raw_keys() if (await node.type(key)) == b"zset"]
    assert sizes and max(sizes) < 60, sizes
