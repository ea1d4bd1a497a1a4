"""The due-items scheduler on real Redis: racing workers and a worker killed mid-batch;
every group-buy deadline fires exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from engine.diagnostics import Location
from engine.groupbuy.book import DEADLINE_KIND, GroupBuyBook, new_group_id
from engine.model import Budget, Decision, Effect, EffectType, GroupBuyTerms, Offer
from engine.scheduler.queue import DueQueue
from engine.scheduler.run import build_worker

OFFER = Offer(
    id="trial",
    label="99元拼团",
    tiers=frozenset({"regular"}),
    on=frozenset({"group_buy_join"}),
    condition=None,
    effect=Effect(EffectType.TRIAL, 99, "3人成团"),
    priority=0,
    exclusive_group=None,
    window=None,
    budget=Budget(),
    withhold_on=frozenset({Decision.REVIEW, Decision.DENY}),
    hold=None,
    beneficiary="customer",
    location=Location("offers.yaml", 1, 1),
    group_buy=GroupBuyTerms(size=3, deadline_seconds=3600),
)


async def open_groups(client: Redis, tenant: str, count: int) -> tuple[GroupBuyBook, DueQueue, list[str]]:
    book, queue = GroupBuyBook(client), DueQueue(client, tenant, lease_s=0.5)
    past = datetime.now(UTC) - timedelta(hours=2)
    ids = []
    for i in range(count):
        group_id = new_group_id(OFFER.id)
        result, deadline = await book.open(
            tenant=tenant, offer=OFFER, group_id=group_id, customer=f"c{i}", member={"at": i}, at=past
        )
        assert result.outcome == "open"
        assert await queue.schedule(DEADLINE_KIND, group_id, deadline, {"tenant": tenant})
        ids.append(group_id)
    return book, queue, ids


async def test_racing_workers_and_a_killed_one_fire_every_deadline_exactly_once(
    redis_server: object, redis_client: Redis, tenant: str
) -> None:
    book, queue, ids = await open_groups(redis_client, tenant, 120)
    # a worker claims a batch, closes half of it and dies before acknowledging anything
    killed = build_worker(redis_client)
    batch = await queue.claim(datetime.now(UTC), 30)
    for item in batch[:15]:
        await killed.handlers[DEADLINE_KIND](item, datetime.now(UTC))
    clients = [Redis.from_url(redis_server.url) for _ in range(4)]  # type: ignore[attr-defined]
    workers = [build_worker(c, batch=7) for c in clients]
    queues = [DueQueue(c, tenant, lease_s=0.5) for c in clients]

    async def drain(index: int) -> None:
        deadline = asyncio.get_running_loop().time() + 20
        while asyncio.get_running_loop().time() < deadline:
            if not await workers[index].run_once(queues[index]) and (await queue.counts())["leased"] == 0:
                if (await queue.counts())["waiting"] == 0:
                    return
                await asyncio.sleep(0.05)
            await asyncio.sleep(0)

    await asyncio.gather(*(drain(i) for i in range(4)))
    for client in clients:
        await client.aclose()
    assert await queue.counts() == {"waiting": 0, "leased": 0, "done": 120}
    assert await book.fired(tenant=tenant, offer_id=OFFER.id) == 120  # each group changed once
    states = [await book.state(tenant=tenant, group_id=g) for g in ids]
    assert all(s is not None and s.state == "failed" for s in states)
    assert all(s is not None and [m["payment"] for m in s.members] == ["refund_due"] for s in states)
    fired = 15 + sum(w.fired for w in workers)
    assert fired == 120  # the 15 closed by the dead worker were redelivered but changed nothing
    assert sum(w.deliveries for w in workers) == 120  # its whole batch came back after the lease


async def test_an_item_is_not_due_before_its_time_and_rescheduling_a_done_item_is_refused(
    redis_client: Redis, tenant: str
) -> None:
    queue = DueQueue(redis_client, tenant)
    soon = datetime.now(UTC) + timedelta(minutes=5)
    assert await queue.schedule("journey_timeout", "c1", soon, {"stage": "trial"})
    assert await queue.claim(datetime.now(UTC)) == []
    [item] = await queue.claim(soon + timedelta(seconds=1))
    assert (item.kind, item.id, item.payload) == ("journey_timeout", "c1", {"stage": "trial"})
    assert await queue.ack(item, soon)
    assert not await queue.schedule("journey_timeout", "c1", soon)  # fired once; not again
