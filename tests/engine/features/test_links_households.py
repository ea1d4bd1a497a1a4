"""Households, farms and hubs as the link features see them, on the real store (one server and cluster)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feature_backends import SECRET, Backend
from redis.asyncio import Redis

from engine.datastore.keys import CustomerKeys
from engine.events import OUTCOME_TYPES, Event
from engine.features.links import FACTS_CAP, IDENTITY_CAP
from engine.features.spec import Entity, FeatureSpec, LinkFeature, LinkMetric, TimeUnit
from engine.features.store import FeatureStore

DAY0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
D = 86400
VIA = (Entity.ADDRESS, Entity.DEVICE, Entity.PHONE)


def _link(name: str, metric: LinkMetric, **kw: object) -> LinkFeature:
    return LinkFeature(name, metric, 30 * D, VIA, ((Entity.IP, 3600),), 8, **kw)  # type: ignore[arg-type]


SPECS: tuple[FeatureSpec, ...] = (
    _link("customer.linked_accounts_30d", LinkMetric.ACCOUNTS),
    _link("customer.linked_paid_share_30d", LinkMetric.PAID_SHARE),
    _link("customer.linked_new_share_30d", LinkMetric.NEW_SHARE, within_seconds=7 * D),
    _link("customer.linked_returning_30d", LinkMetric.RETURNING_SHARE, within_seconds=7 * D),
    _link("customer.link_age_days", LinkMetric.LINK_AGE, unit=TimeUnit.DAYS),
    _link("customer.link_hubs", LinkMetric.HUBS),
    _link("customer.household_rewards_30d", LinkMetric.REWARDS),
)


class World:
    def __init__(self, backend: Backend, tenant: str) -> None:
        self.store, self.tenant, self.sent = backend.store(), tenant, 0

    async def send(self, at: datetime, **fields: object) -> dict[str, object]:
        self.sent += 1
        event = Event.model_validate({"event_id": f"h{self.sent}", "timestamp": at, **fields})
        if event.type in OUTCOME_TYPES:
            await self.store.record_outcome(tenant=self.tenant, event=event, specs=SPECS)
            return {}
        return dict((await self.store.record_and_read(tenant=self.tenant, event=event, specs=SPECS)).values)


async def test_a_family_on_one_tablet_is_a_stable_paying_household(backend: Backend, tenant: str) -> None:
    world = World(backend, tenant)
    for week in range(3):  # each parent books and pays for their own child, and comes back
        for k, parent in enumerate(("mum", "dad", "grandma")):
            at = DAY0 + timedelta(days=7 * week + k)
            await world.send(at, type="order", customer=parent, device="tablet", address="12 Garden Rd")
            await world.send(at + timedelta(minutes=20), type="order_paid", customer=parent, amount=99)
    seen = await world.send(DAY0 + timedelta(days=16), type="coupon_claim", customer="mum", device="tablet")
    assert seen["customer.linked_accounts_30d"] == 2
    assert seen["customer.linked_paid_share_30d"] == 1.0
    assert seen["customer.linked_returning_30d"] == 1.0
    assert seen["customer.linked_new_share_30d"] == 0.0
    assert seen["customer.link_age_days"] is not None and seen["customer.link_age_days"] >= 14
    group = await world.store.linked_group(tenant=tenant, customer="mum", now_ms=_ms(DAY0 + timedelta(days=16)))
    assert sorted(m.customer for m in group) == ["dad", "grandma"]
    assert all((Entity.DEVICE, "tablet") in m.shared for m in group)


async def test_a_farm_behind_one_address_is_new_unpaid_and_freshly_linked(backend: Backend, tenant: str) -> None:
    world = World(backend, tenant)
    seen: dict[str, object] = {}
    for k in range(5):  # a fresh device per account, one drop address typed the same way
        at = DAY0 + timedelta(hours=k)
        seen = await world.send(at, type="coupon_claim", customer=f"farm{k}", device=f"fd{k}", address="Room 3, Bldg 9")
    assert seen["customer.linked_accounts_30d"] == 4
    assert seen["customer.linked_new_share_30d"] == 1.0
    assert seen["customer.linked_paid_share_30d"] == 0.0
    assert seen["customer.link_age_days"] == 0.0
    assert seen["customer.link_hubs"] == 0


async def test_a_parcel_locker_is_a_hub_not_a_link(backend: Backend, tenant: str) -> None:
    world = World(backend, tenant)
    seen: dict[str, object] = {}
    for k in range(12):
        at = DAY0 + timedelta(hours=k)
        seen = await world.send(at, type="order", customer=f"n{k}", device=f"nd{k}", address="Locker 7")
    assert seen["customer.link_hubs"] == 1
    assert seen["customer.linked_accounts_30d"] == 0  # the 9th user on made it a hub: nobody linked through it
    early = await world.store.linked_group(tenant=tenant, customer="n1", now_ms=_ms(DAY0 + timedelta(hours=12)))
    assert {m.customer for m in early} <= {f"n{k}" for k in range(8)}  # links made while it was small remain


async def test_one_newcomer_reward_per_household(backend: Backend, tenant: str) -> None:
    world = World(backend, tenant)
    first = await world.send(DAY0, type="signup", customer="mum", device="tablet")
    assert first["customer.household_rewards_30d"] == 0
    # the offer ledger records mum's trial grant in her slot (engine/offers/ledger.py, RECORD)
    await backend.client.zadd(CustomerKeys(tenant, "mum").grants, {'{"o":"trial_99"}': DAY0.timestamp() + 1})
    second = await world.send(DAY0 + timedelta(days=1), type="signup", customer="dad", device="tablet")
    assert second["customer.household_rewards_30d"] == 1
    stranger = await world.send(DAY0 + timedelta(days=1), type="signup", customer="neighbour", device="own-phone")
    assert stranger["customer.household_rewards_30d"] == 0


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def test_a_retried_event_links_nothing_twice_and_answers_the_same(backend: Backend, tenant: str) -> None:
    store = backend.store()
    for k in range(3):
        event = Event(event_id=f"r{k}", type="signup", customer=f"kin{k}", device="tablet", timestamp=DAY0)
        await store.record_and_read(tenant=tenant, event=event, specs=SPECS)
    last = Event(event_id="r2", type="signup", customer="kin2", device="tablet", timestamp=DAY0)
    again = await store.record_and_read(tenant=tenant, event=last, specs=SPECS)
    assert again.replayed
    assert again.values["customer.linked_accounts_30d"] == 2
    group = await store.linked_group(tenant=tenant, customer="kin0", now_ms=_ms(DAY0))
    assert sorted(m.customer for m in group) == ["kin1", "kin2"]


async def test_flooding_a_shared_address_past_the_fan_out_shows_as_a_hub(backend: Backend, tenant: str) -> None:
    """A farm that sends strangers' ids on its drop address to make it a hub does not vanish: it is a hub."""
    world = World(backend, tenant)
    for k in range(9):
        await world.send(DAY0 + timedelta(minutes=k), type="signup", customer=f"fake{k}", address="Room 3, Bldg 9")
    later = DAY0 + timedelta(minutes=10)
    seen = await world.send(later, type="coupon_claim", customer="fake0", address="Room 3, Bldg 9")
    assert seen["customer.link_hubs"] == 1
    assert seen["customer.linked_accounts_30d"] == 7  # the links made while it was below the fan-out stay


IDENTITIES = _link("customer.linked_identities_30d", LinkMetric.IDENTITIES)


async def _farm(store: FeatureStore, tenant: str, devices_each: int, address: str) -> dict[str, object]:
    """Eight accounts (the fan-out) behind one address, each rotating ``devices_each`` devices; then one more claim."""
    specs = (*SPECS, IDENTITIES)
    n = 0
    for k in range(8):
        for d in range(devices_each):
            n += 1
            event = Event(
                event_id=f"f{n}", type="coupon_claim", customer=f"acct{k}", device=f"a{k}-d{d}", address=address,
                timestamp=DAY0 + timedelta(minutes=n),
            )  # fmt: skip
            await store.record_and_read(tenant=tenant, event=event, specs=specs)
    last = Event(
        event_id="last", type="coupon_claim", customer="acct0", device="a0-d0", address=address,
        timestamp=DAY0 + timedelta(minutes=n + 1),
    )  # fmt: skip
    return dict((await store.record_and_read(tenant=tenant, event=last, specs=specs)).values)


async def test_identities_a_farm_rotates_are_counted_up_to_the_cap(backend: Backend, tenant: str) -> None:
    """72 devices and an address among 8 accounts: the count stops at the stated cap, on one server and a cluster."""
    seen = await _farm(backend.store(), tenant, 9, "Room 3, Bldg 9")
    assert seen["customer.linked_accounts_30d"] == 7
    assert seen["customer.linked_identities_30d"] == IDENTITY_CAP


async def test_a_groups_data_does_not_grow_what_redis_sends_per_event(redis_client: Redis) -> None:
    """The same farm, each account rotating 1 or 30 devices: the next event's replies are the same size.

    The members' facts and identities are aggregated in the script (op LM), so what Redis
    sends back per event is bounded by the caps, not by how much the group has stored.
    """
    store = FeatureStore(redis_client, secret=SECRET)
    sent: list[int] = []
    for tenant, devices in (("small", 1), ("large", 30)):
        before = int((await redis_client.info("stats"))["total_net_output_bytes"])
        seen = await _farm(store, tenant, devices, "Room 3, Bldg 9")
        after = int((await redis_client.info("stats"))["total_net_output_bytes"])
        sent.append(after - before)
        assert seen["customer.linked_accounts_30d"] == 7
    small_per_event, large_per_event = sent[0] / (8 + 1), sent[1] / (8 * 30 + 1)
    assert large_per_event < small_per_event * 1.1, (small_per_event, large_per_event)


async def test_shares_read_the_newest_members_of_a_big_group(backend: Backend, tenant: str) -> None:
    """20 peers through 20 devices, the 4 oldest paid: the shares read the newest FACTS_CAP (16), none paid."""
    world = World(backend, tenant)
    for k in range(20):
        at = DAY0 + timedelta(minutes=k)
        await world.send(at, type="signup", customer=f"p{k}", device=f"d{k}")
        if k < 4:
            await world.send(at + timedelta(seconds=1), type="order_paid", customer=f"p{k}", amount=99)
    seen: dict[str, object] = {}
    for k in range(20):
        seen = await world.send(DAY0 + timedelta(hours=1, minutes=k), type="order", customer="hub_user", device=f"d{k}")
    assert seen["customer.linked_accounts_30d"] == 20  # every peer counts (up to GROUP_CAP)
    assert FACTS_CAP == 16
    assert seen["customer.linked_paid_share_30d"] == 0.0  # the 4 who paid are the oldest links
    assert seen["customer.linked_new_share_30d"] == 1.0
