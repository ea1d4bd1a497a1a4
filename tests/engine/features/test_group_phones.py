"""The group-buys a phone or a delivery address sat in this month, whoever the leader (session 14).

自己拼自己 fills each new 拼团 from the same few phones and ships to the same flat, whether or not
the join names a leader (a farmer opens each group from another alt, or the storefront drops the
share link's referrer). Two distinct streams count, exactly, over a month, the groups each phone and
address (canonical: one flat typed several ways is one) joined (rules 1833/1834). A class's parent joins one
group on her own phone; a family tablet carries two parents' joins, often into one class's group.
The farmer controls every byte of the join: leaving the device off counts no phone (the other
streams still count), and a join without a group counts nothing. Checked against the brute-force
oracle on a random stream, on a real Redis and a cluster.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from feature_backends import Backend
from feature_oracle import Oracle

from engine.events import Event
from engine.features.spec import Aggregate, Entity, WindowedFeature

MONTH = 30 * 86400
JOIN = frozenset({"group_buy_join"})


def _spec(name: str, by: Entity) -> WindowedFeature:
    return WindowedFeature(name=name, aggregate=Aggregate.DISTINCT, by=by, window_seconds=MONTH, on=JOIN, field="group")


PHONE = _spec("device.groups_30d", Entity.DEVICE)
ADDRESS = _spec("address.groups_30d", Entity.ADDRESS)
SPECS = (PHONE, ADDRESS)
DAY = 86400.0
#: Far enough back that the random stream's last join is still before the wall clock.
START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
_n = iter(range(100_000))


def _join(customer: str, group: str | None, device: str | None, address: str | None, ip: str | None,
          days: float) -> Event:  # fmt: skip
    return Event(
        event_id=f"gph{next(_n)}", type="group_buy_join", customer=customer, device=device, address=address,
        ip=ip, group=group, campaign="group_buy_69", timestamp=START + timedelta(seconds=days * DAY),
    )  # fmt: skip


async def _read(backend: Backend, tenant: str, event: Event) -> tuple[object, ...]:
    values = (await backend.store().record_and_read(tenant=tenant, event=event, specs=SPECS)).values
    return tuple(values[s.name] for s in SPECS)


async def test_a_farmer_fills_group_after_group_from_his_phones(backend: Backend, tenant: str) -> None:
    # attack: a new group every day, three fresh alts on his two phones, his flat typed two ways, no leader named
    seen = []
    for day in range(4):
        for n in range(3):
            phone, flat = ("dv-f1", "dv-f2")[n % 2], ("朝阳区望京西园3区5号楼101", "望京西园三区5栋101室")[n % 2]
            seen.append(await _read(backend, tenant, _join(f"alt{day}{n}", f"gb-f{day}", phone, flat, "27.38.9.1",
                                                           day + 0.01 * n)))  # fmt: skip
    assert seen[-1] == (4, 4)  # his phone and his flat sat in four groups


async def test_a_family_tablet_carries_two_parents_into_one_classes_group(backend: Backend, tenant: str) -> None:
    # honest look-alike: two parents on one tablet, one class's group; another class's group a week on
    await _read(backend, tenant, _join("mum", "gb-c1", "tab-1", "海淀区学院路1号", "10.1.1.1", 0))
    await _read(backend, tenant, _join("dad", "gb-c1", "tab-1", "海淀区学院路1号", "10.1.1.1", 0.1))
    assert await _read(backend, tenant, _join("dad", "gb-c2", "tab-1", "海淀区学院路1号", "10.1.1.1", 7)) == (2, 2)


async def test_leaving_the_phone_off_hides_only_the_phone(backend: Backend, tenant: str) -> None:
    # attack: send no device; the address still counts the groups
    await _read(backend, tenant, _join("y1", "gb-y1", "dv-y", "丰台区科学城18号院", "27.38.9.2", 0))
    assert await _read(backend, tenant, _join("y2", "gb-y2", None, "丰台区科学城18号院", "27.38.9.2", 0.1)) == (None, 2)


async def test_a_join_without_a_group_counts_nothing(backend: Backend, tenant: str) -> None:
    await _read(backend, tenant, _join("z1", "gb-z1", "dv-z", None, None, 0))
    assert await _read(backend, tenant, _join("z2", None, "dv-z", None, None, 0.1)) == (1, None)


async def test_a_month_later_the_phone_starts_again(backend: Backend, tenant: str) -> None:
    await _read(backend, tenant, _join("o1", "gb-o1", "dv-o", None, None, 0))
    assert await _read(backend, tenant, _join("o2", "gb-o2", "dv-o", None, None, 31)) == (1, None)


async def test_a_random_stream_of_joins_equals_the_brute_force(backend: Backend, tenant: str) -> None:
    rng, oracle, store = random.Random(14), Oracle(), backend.store()
    t = 0.0
    for _ in range(160):
        t += rng.choice((0.0, 0.01, 0.5, 1.0, 3.0, 9.0))  # on the same instant too, and past the window
        event = _join(
            f"c{rng.randrange(12)}", rng.choice([f"gb-{n}" for n in range(8)] + [None]),
            rng.choice(["dv-1", "dv-2", "dv-3", None]),
            rng.choice(["朝阳区望京西园3区5号楼101", "望京西园三区5栋101室", "海淀区学院路1号", None]),
            rng.choice(["27.38.9.1", "27.38.9.2", None]), t,
        )  # fmt: skip
        expected = oracle.values(SPECS, event)
        got = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
        oracle.log.append(event)
        assert {s.name: got[s.name] for s in SPECS} == expected, event
