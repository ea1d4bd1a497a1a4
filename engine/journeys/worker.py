"""``yutang worker``: claim due items of every tenant and process them.

Any number of workers may run: ``DueQueue.claim`` hands each item to one worker
at a time; a worker killed mid-batch leaves its items leased, and they are claimed
again when the lease runs out. ``now`` is injectable so tests and the bench drive a
compressed clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from engine.datastore.batches import run_batch, text
from engine.egress.transport import Egress
from engine.journeys.community import Community
from engine.journeys.due import DueItem, DueQueue
from engine.journeys.runner import JourneyRunner
from engine.journeys.webhooks import Outbox
from engine.rule_engine import LoadedRuleSet

log = logging.getLogger("yutang.worker")
TENANTS_KEY = "yt:due:tenants"


class Worker:
    def __init__(
        self,
        *,
        client: Any,
        queue: DueQueue,
        runner: JourneyRunner,
        outbox: Outbox,
        community: Community,
        ruleset: Callable[[str], LoadedRuleSet],  # a tenant's running set: its items run on its own rules
        egress: Egress,
        batch: int = 100,
    ) -> None:
        self.client = client
        self.queue = queue
        self.runner = runner
        self.outbox = outbox
        self.community = community
        self.ruleset = ruleset
        self.egress = egress
        self.batch = batch

    async def run_once(self, *, now: float | None = None) -> Counter[str]:
        """Process every item due at ``now`` (default: the wall clock); counts by outcome."""
        at = time.time() if now is None else now
        counts: Counter[str] = Counter()
        tenants = sorted(text(t) for t in (await run_batch(self.client, [("SMEMBERS", TENANTS_KEY)]))[0])
        for tenant in tenants:
            while True:
                items = await self.queue.claim(tenant=tenant, now=at, limit=self.batch)
                if not items:
                    break
                for item in items:
                    counts[await self.process(item, now=at, tenant=tenant)] += 1
                    await self.queue.ack(tenant=tenant, item_ids=[item.id])
        return counts

    async def process(self, item: DueItem, *, now: float, tenant: str) -> str:
        """One due item of ``tenant``, on ``tenant``'s rule set: its webhooks, stages and offers, never another's."""
        loaded = self.ruleset(tenant)
        kind = item.payload.get("kind")
        if kind == "timeout":
            return f"timeout_{(await self.runner.fire(loaded=loaded, item=item, now=now))['status']}"
        if kind == "webhook":
            hook = loaded.ruleset.automation.webhooks.get(item.payload["hook"])
            return f"webhook_{await self.outbox.deliver(item, hook, now=now, egress=self.egress)}"
        if kind == "red_packet":
            return f"red_packet_{await self.community.check_red_packet(item, loaded=loaded, now=now)}"
        return "unknown"

    async def run_forever(self, *, poll_s: float = 1.0) -> None:
        """Poll forever; a failing pass (Redis away) is logged when it starts failing and when it recovers."""
        failing_since: float | None = None
        while True:
            try:
                counts = await self.run_once()
                if counts:
                    log.info("processed %s", dict(counts))
                if failing_since is not None:
                    log.info("worker passes succeed again after %.1f s", time.monotonic() - failing_since)
                    failing_since = None
            except asyncio.CancelledError:
                raise
            except Exception as err:  # Redis away: keep polling, say so once
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("worker pass failed: %s; retrying every %.1f s", err, poll_s)
            await asyncio.sleep(poll_s)
