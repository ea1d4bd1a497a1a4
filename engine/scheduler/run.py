"""``yutang worker``: fire due items (group-buy deadlines; journey timeouts later) and expire
held rewards and checkout reservations, for as long as it runs.

Any number of workers may run against one Redis (or cluster): claims are leased, so
each due item fires once and a killed worker's batch is taken over when its lease ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from engine.datastore.connection import RedisSettings, open_redis
from engine.datastore.tenants import created_tenants
from engine.groupbuy.book import DEADLINE_KIND, GroupBuyBook
from engine.groupbuy.deadlines import deadline_handler
from engine.offers.ledger import OfferLedger
from engine.scheduler.queue import DueQueue, known_queues
from engine.scheduler.worker import Worker


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=100, help="due items claimed per round trip")
    parser.add_argument("--lease", type=float, default=30.0, help="seconds before a claimed item is retried")
    parser.add_argument("--idle", type=float, default=1.0, help="seconds to sleep when nothing is due")
    parser.add_argument("--tenant", action="append", default=[], help="also expire holds of this tenant")


def build_worker(client: object, *, batch: int = 100) -> Worker:
    """A worker with every built-in kind registered (other features add theirs the same way)."""
    worker = Worker(batch=batch)
    worker.register(DEADLINE_KIND, deadline_handler(GroupBuyBook(client)))
    return worker


def tenants_from_keys(spec: str) -> set[str]:
    """Tenants named in ``YUTANG_API_KEYS`` (``key:tenant:scopes,...``)."""
    return {part.split(":")[1] for part in spec.split(",") if part.count(":") >= 2}


async def run(args: argparse.Namespace) -> None:
    handle = await open_redis(RedisSettings.from_env())
    configured = set(args.tenant) | tenants_from_keys(os.environ.get("YUTANG_API_KEYS", ""))

    async def tenants() -> set[str]:
        return configured | await created_tenants(handle.client)

    try:
        await run_offers(handle.client, tenants=tenants, batch=args.batch, lease_s=args.lease, idle_s=args.idle)
    finally:
        await handle.aclose()


async def run_offers(
    client: object,
    *,
    tenants: Callable[[], Awaitable[set[str]]],
    batch: int = 100,
    lease_s: float = 30.0,
    idle_s: float = 1.0,
) -> None:
    """Forever: group-buy deadlines of every known queue, hold and reservation expiry of every tenant.

    ``tenants`` is asked on every pass, so a tenant created through the API after start-up
    gets its holds and reservations expired too.
    """
    worker = build_worker(client, batch=batch)
    ledger = OfferLedger(client)
    queues: dict[str, DueQueue] = {}
    names: list[str] = []

    async def refresh() -> None:
        names[:] = await known_queues(client)
        for name in names:
            queues.setdefault(name, DueQueue(client, name, lease_s=lease_s))

    async def expire() -> None:
        now = datetime.now(UTC)
        every = sorted(set(names) | await tenants())
        await ledger.expire_holds_of(every, now=now)
        for tenant in every:
            await ledger.expire_reservations(tenant=tenant, now=now)

    await worker.run(lambda: [queues[n] for n in names], idle_s=idle_s, also=[refresh, expire])


def main(args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args))
    return 0
