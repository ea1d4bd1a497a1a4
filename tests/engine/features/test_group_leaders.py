"""A group-buy leader's groups (团长): who joined the groups she shared, on what phones, to what addresses.

The members of a 拼团 join from the leader's share link, so their join names her as the
``referrer``; four distinct streams in the leader's own entity hash count, exactly, over a
month: her groups that members joined, the members, and the phones and delivery addresses
they joined with (rules 1831-1834). A class's parents join once each, on their own phones,
to their own homes; a 团长's farm fills group after group from a recurring core of alts on her
few phones, shipping to her drop point. The farmer controls every byte of the join: leaving
the device or the address off counts a member and no phone, which only makes the farm look
more self-filled; a member naming no referrer is no one's member (the leader's own join
opens her group). Checked against the brute-force oracle on a random stream, on a real Redis and a cluster.
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


def _spec(name: str, aggregate: Aggregate, field: str | None = None) -> WindowedFeature:
    return WindowedFeature(name=name, aggregate=aggregate, by=Entity.REFERRER, window_seconds=MONTH, on=JOIN,
                           field=field)  # fmt: skip


GROUPS = _spec("referrer.groups_30d", Aggregate.DISTINCT, "group")
MEMBERS = _spec("referrer.group_members_30d", Aggregate.DISTINCT, "customer")
PHONES = _spec("referrer.group_member_devices_30d", Aggregate.DISTINCT, "device")
ADDRESSES = _spec("referrer.group_member_addresses_30d", Aggregate.DISTINCT, "address")
SPECS = (GROUPS, MEMBERS, PHONES, ADDRESSES)
DAY = 86400.0
#: Far enough back that the random stream's last join (~300 days on) is still before the wall clock: the
#: store reads a join dated past it at the clock (engine/features/builder.py, ``read_t``).
START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
_n = iter(range(100_000))


def _join(customer: str, leader: str | None, device: str | None, address: str | None, days: float) -> Event:
    return Event(
        event_id=f"gld{next(_n)}", type="group_buy_join", customer=customer, referrer=leader, device=device,
        address=address, group=f"gb-{leader}-{int(days)}", campaign="group_buy_69",
        timestamp=START + timedelta(seconds=days * DAY),
    )  # fmt: skip


async def _read(backend: Backend, tenant: str, event: Event) -> tuple[object, ...]:
    values = (await backend.store().record_and_read(tenant=tenant, event=event, specs=SPECS)).values
    return tuple(values[s.name] for s in SPECS)


async def test_a_leaders_farm_fills_her_groups_from_a_core_on_her_phones(backend: Backend, tenant: str) -> None:
    # attack: the 团长 opens a group a day; two of her three alts fill each, on her two phones, to her flat
    seen = []
    for day in range(4):
        assert await _read(backend, tenant, _join("lead", None, "dv-a", "朝阳区望京西园3区5号楼101", day)) == (
            (None,) * 4
        )  # her own join opens the group: she is nobody's member
        for n, alt in enumerate(("alt1", "alt2", "alt3")[day % 2 : day % 2 + 2]):
            phone = ("dv-a", "dv-b")[n]
            seen.append(await _read(backend, tenant, _join(alt, "lead", phone, "望京西园三区5栋101室", day + 0.01 * n)))
    assert seen[-1] == (4, 3, 2, 1)  # 4 groups, 3 members, 2 phones, one flat typed two ways


async def test_a_class_leaders_parents_join_once_each_on_their_own_phones(backend: Backend, tenant: str) -> None:
    # honest look-alike: two classes' groups, each parent once, her own phone and home
    seen = [
        await _read(backend, tenant, _join(f"mum{n}", "teacher-mum", f"dv-{n}", f"海淀区学院路{n + 1}号", n * 0.1))
        for n in range(5)
    ]
    assert seen[-1] == (1, 5, 5, 5)  # one group (a 5-person one), each parent her own phone and home


async def test_leaving_the_phone_and_address_off_counts_a_member_and_nothing_else(
    backend: Backend, tenant: str
) -> None:
    # attack: hide the alts' phones by sending none: the members outnumber the phones all the more
    await _read(backend, tenant, _join("x1", "lead-x", "dv-x", "丰台区科学城18号院", 0))
    assert await _read(backend, tenant, _join("x2", "lead-x", None, None, 0.1)) == (1, 2, 1, 1)


async def test_a_month_later_the_leader_starts_again(backend: Backend, tenant: str) -> None:
    await _read(backend, tenant, _join("o1", "lead-o", "dv-o", None, 0))
    assert await _read(backend, tenant, _join("o2", "lead-o", "dv-o", None, 31)) == (1, 1, 1, 0)


async def test_a_random_stream_of_joins_equals_the_brute_force(backend: Backend, tenant: str) -> None:
    rng, oracle, store = random.Random(13), Oracle(), backend.store()
    leaders = [f"L{n}" for n in range(4)]
    t = 0.0
    for _ in range(160):
        t += rng.choice((0.0, 0.01, 0.5, 1.0, 3.0, 9.0))  # on the same instant too, and past the window
        leader = rng.choice([*leaders, None])
        event = _join(
            rng.choice([f"c{n}" for n in range(12)] + leaders), leader, rng.choice(["dv-1", "dv-2", "dv-3", None]),
            rng.choice(["朝阳区望京西园3区5号楼101", "望京西园三区5栋101室", "海淀区学院路1号", None]), t,
        )  # fmt: skip
        expected = oracle.values(SPECS, event)
        got = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
        oracle.log.append(event)
        assert {s.name: got[s.name] for s in SPECS} == expected, event
