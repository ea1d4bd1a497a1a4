"""The link round on one server: inside round 1 (op LR), one round trip, the peers' keys built in the script."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feature_backends import SECRET, Backend
from redis.asyncio import Redis

from engine.events import Event
from engine.features.links import GROUP_CAP
from engine.features.spec import Entity, FeatureSpec, LinkFeature, LinkMetric
from engine.features.store import FeatureStore

DAY0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
VIA = (Entity.ADDRESS, Entity.DEVICE, Entity.PHONE)
W = 30 * 86400
WEAK = ((Entity.IP, 3600),)
SPECS: tuple[FeatureSpec, ...] = (
    LinkFeature("customer.linked_accounts_30d", LinkMetric.ACCOUNTS, W, VIA, WEAK, 8),
    LinkFeature("customer.linked_new_share_30d", LinkMetric.NEW_SHARE, W, VIA, WEAK, 8, within_seconds=7 * 86400),
)


async def _script_calls(client: Redis) -> int:
    stats = await client.info("commandstats")
    return sum(int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval"))


async def test_a_linked_event_is_one_round_trip_on_one_server(redis_client: Redis) -> None:
    """A customer with peers and new links: the links are written and read in the request's own script call."""
    store = FeatureStore(redis_client, secret=SECRET)
    for k in range(4):
        event = Event(event_id=f"k{k}", type="signup", customer=f"kin{k}", device="tablet", timestamp=DAY0)
        await store.record_and_read(tenant="one", event=event, specs=SPECS)
    before = await _script_calls(redis_client)
    event = Event(
        event_id="k4", type="order", customer="kin4", device="tablet", ip="10.0.0.1",
        timestamp=DAY0 + timedelta(minutes=5),
    )  # fmt: skip
    seen = (await store.record_and_read(tenant="one", event=event, specs=SPECS)).values
    assert await _script_calls(redis_client) - before == 1
    assert seen["customer.linked_accounts_30d"] == 4
    assert seen["customer.linked_new_share_30d"] == 1.0
    group = await store.linked_group(tenant="one", customer="kin0", now_ms=int(event.timestamp.timestamp() * 1000))
    assert sorted(m.customer for m in group) == ["kin1", "kin2", "kin3", "kin4"]  # both sides were written


async def test_customer_ids_made_to_break_out_of_a_key_stay_in_their_own(backend: Backend, tenant: str) -> None:
    """Ids with braces and a key suffix: op LR builds peers' keys from stored ids, which are digests then.

    A caller who names a customer ``x}:lk:peers`` must not write into another customer's
    keys (or outside the tenant): the ids are linked like any other, under their own tags.
    """
    store = backend.store()
    names = ["x}:lk:peers", "{victim}", "plain"]
    seen: dict[str, object] = {}
    for k, name in enumerate(names):
        event = Event(event_id=f"b{k}", type="signup", customer=name, device="shared-dev", timestamp=DAY0)
        seen = dict((await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values)
    assert seen["customer.linked_accounts_30d"] == 2
    group = await store.linked_group(tenant=tenant, customer="plain", now_ms=int(DAY0.timestamp() * 1000))
    assert len(group) == 2 and all(m.customer.startswith("~") for m in group)  # the unsafe ids, as digests
    keys = [key.decode() for _, key in await backend.raw_keys()]
    assert not [k for k in keys if "victim" in k or "x}" in k]
    assert all(k.startswith(f"yt:{{{tenant}:") for k in keys if ":lk:" in k), keys


async def test_a_customer_who_links_with_hundreds_keeps_a_bounded_since_hash(redis_client: Redis) -> None:
    """A farm's mover meets a new account on each of 330 devices: its peers stay the newest 64, and the
    link-formed times of the peers it dropped are pruned (``lk:since`` at most 5 x the cap), while the
    group it reads is still exactly its newest 64 peers."""
    store = FeatureStore(redis_client, secret=SECRET)
    at = DAY0
    for k in range(330):
        for who in (f"p{k}", "mover"):
            at += timedelta(seconds=1)
            event = Event(event_id=f"{who}-{k}", type="signup", customer=who, device=f"dev{k}", timestamp=at)
            seen = (await store.record_and_read(tenant="one", event=event, specs=SPECS)).values
    assert seen["customer.linked_accounts_30d"] == GROUP_CAP
    sizes = [await redis_client.hlen(key) async for key in redis_client.scan_iter(match="*:lk:since")]
    assert max(sizes) <= 5 * GROUP_CAP
    assert max(sizes) > GROUP_CAP  # pruned in steps, not on every link
    group = await store.linked_group(tenant="one", customer="mover", now_ms=int(at.timestamp() * 1000))
    assert sorted(m.customer for m in group) == sorted(f"p{k}" for k in range(330 - GROUP_CAP, 330))
