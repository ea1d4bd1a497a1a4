"""The payers' regions in Redis: the same counts as the in-memory rules, on one server and a cluster.

Events a farmer shapes (cheap repeats, refunds in full and in part, chargebacks without an
amount, re-homing by later events, a history order before any region) go through both the
Lua script and :class:`PayerAreas`; the counts must agree. A worker's snapshot is read from
memory and refreshed in the background.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from engine.area.payers import PayerAreas
from engine.area.store import AreaSnapshots, area_keys, read_counts, record
from engine.events import Event

BLOCKS = ("1300370", "1301554", "1300111")  # 浙江, 河南, 北京


def _events(seed: int) -> list[Event]:
    rng = random.Random(seed)
    out = []
    for i in range(400):
        customer = f"c{rng.randrange(60)}"
        kind = rng.choice(["signup", "order_paid", "order_paid", "refund", "chargeback", "store_visit"])
        phone = f"{rng.choice(BLOCKS)}{rng.randrange(10000):04d}" if rng.random() < 0.4 else None
        ip = "1.0.1.1" if rng.random() < 0.2 else None
        amount = rng.choice([None, 0, 0.01, 30, 49, 99]) if kind != "signup" else None
        out.append(Event(
            event_id=f"e{i}", type=kind, customer=customer, phone=phone, ip=ip, amount=amount,
            timestamp=datetime.now(UTC),
        ))  # fmt: skip
    return out


@pytest.mark.parametrize("seed", [1, 2])
async def test_redis_counts_are_the_in_memory_rules(redis_client, tenant: str, seed: int) -> None:  # type: ignore[no-untyped-def]
    oracle = PayerAreas()
    for event in _events(seed):
        oracle.observe(event)
        await record(redis_client, tenant, event)
    counts = await read_counts(redis_client, tenant)
    assert {k: v for k, v in counts.items() if v} == oracle.snapshot()
    assert oracle.snapshot()  # the events did count somebody


async def test_on_a_cluster_one_tenant_is_one_slot(redis_cluster_client, tenant: str) -> None:  # type: ignore[no-untyped-def]
    oracle = PayerAreas()
    for event in _events(3)[:120]:
        oracle.observe(event)
        await record(redis_cluster_client, tenant, event)
    assert {k: v for k, v in (await read_counts(redis_cluster_client, tenant)).items() if v} == oracle.snapshot()
    customers, counts = area_keys(tenant)
    assert customers.split("}")[0] == counts.split("}")[0]  # one hash tag


async def test_a_worker_reads_its_snapshot_and_refreshes_it_in_the_background(redis_client, tenant: str) -> None:  # type: ignore[no-untyped-def]
    areas = AreaSnapshots(redis_client, refresh_s=3600)
    assert areas.current(tenant) is None  # nothing fetched yet: the declared area applies
    for i in range(3):
        signup = Event(
            event_id=f"s{i}", type="signup", customer=f"m{i}", phone=f"1300370{i:04d}", timestamp=datetime.now(UTC)
        )
        areas.place(tenant, signup)  # a scored event's region, written in the background
        areas.place(tenant, signup)  # once per customer
        paid = Event(event_id=f"p{i}", type="order_paid", customer=f"m{i}", amount=99, timestamp=datetime.now(UTC))
        await areas.drain()
        await record(redis_client, tenant, paid)
    await areas.drain()
    assert areas.current(tenant) == {}  # the first fetch ran before anybody paid; still fresh, not fetched again
    assert await areas.refresh(tenant) == {"浙江": 3, "*": 3}
    assert areas.current(tenant) == {"浙江": 3, "*": 3}  # fresh: from memory, no refresh started
    assert not areas._tasks


async def test_a_payer_written_before_gross_was_kept_reads_as_having_kept_it_all(redis_client, tenant: str) -> None:  # type: ignore[no-untyped-def]
    customers, counts = area_keys(tenant)
    await redis_client.hset(customers, "mum", "浙江|1|9900")  # session 7's layout: region|by_phone|net
    await redis_client.hset(counts, mapping={"浙江": 1, "*": 1})
    now = datetime.now(UTC)
    await record(redis_client, tenant, Event(event_id="r1", type="refund", customer="mum", amount=40, timestamp=now))
    assert await read_counts(redis_client, tenant) == {"浙江": 1, "*": 1}  # kept 59 of 99
    await record(redis_client, tenant, Event(event_id="r2", type="refund", customer="mum", amount=20, timestamp=now))
    assert await read_counts(redis_client, tenant) == {"*": 0}  # 39 of 99: below half


async def test_a_region_write_lost_to_an_outage_is_written_by_the_customers_next_event(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Red team, session 8: a region write that failed (Redis away) was remembered as written, so that worker never
    wrote the customer's region again and its payments later counted for no region."""
    from redis.asyncio import Redis

    from engine.datastore.embedded import EmbeddedRedis, free_port

    server = EmbeddedRedis(tmp_path / "area-outage", port=free_port()).start()
    client = Redis.from_url(server.url, socket_timeout=1)
    try:
        areas = AreaSnapshots(client)
        server.stop()
        signup = Event(
            event_id="s1", type="signup", customer="mum", phone=f"{BLOCKS[0]}0001", timestamp=datetime.now(UTC)
        )
        areas.place("t", signup)
        await areas.drain()  # the write failed, quietly
        server.start()
        areas.place("t", signup.model_copy(update={"event_id": "s2", "type": "red_packet_claim"}))
        await areas.drain()
        await record(
            client, "t", Event(event_id="p1", type="order_paid", customer="mum", amount=99, timestamp=datetime.now(UTC))
        )
        assert await read_counts(client, "t") == {"浙江": 1, "*": 1}
    finally:
        await client.aclose()
        server.stop()


async def test_a_flood_of_accounts_that_never_pay_leaves_keys_that_expire_not_a_growing_hash(
    redis_client, tenant: str
) -> None:  # type: ignore[no-untyped-def]
    """Red team, session 9: every account that gave a phone or IP kept a field of the hash for ever. Only counted
    payers are kept there now; anyone else's state is a key of its own that expires (STATE_TTL_S)."""
    from engine.area.store import STATE_TTL_S, uncounted_key

    now = datetime.now(UTC)
    for i in range(200):
        signup = Event(event_id=f"f{i}", type="signup", customer=f"farm{i}", phone=f"{BLOCKS[1]}{i:04d}", timestamp=now)
        await record(redis_client, tenant, signup)
    customers, _ = area_keys(tenant)
    assert await redis_client.hlen(customers) == 0
    assert 0 < await redis_client.ttl(uncounted_key(tenant, "farm7")) <= STATE_TTL_S
    # the region a non-payer gave still counts once it pays (the state moves into the hash)...
    await record(
        redis_client, tenant, Event(event_id="p7", type="order_paid", customer="farm7", amount=99, timestamp=now)
    )
    assert await read_counts(redis_client, tenant) == {"河南": 1, "*": 1}
    assert await redis_client.hkeys(customers) == [b"farm7"] and not await redis_client.exists(
        uncounted_key(tenant, "farm7")
    )
    # ...and back out, with a life again, once it no longer counts
    await record(redis_client, tenant, Event(event_id="r7", type="refund", customer="farm7", amount=99, timestamp=now))
    assert await read_counts(redis_client, tenant) == {"*": 0} and await redis_client.hlen(customers) == 0
    assert await redis_client.ttl(uncounted_key(tenant, "farm7")) > 0
    await record(
        redis_client, tenant, Event(event_id="q7", type="order_paid", customer="farm7", amount=99, timestamp=now)
    )
    assert await read_counts(redis_client, tenant) == {"河南": 1, "*": 1}  # paid 198, kept 99: half, counts again
    assert await redis_client.hkeys(customers) == [b"farm7"]
