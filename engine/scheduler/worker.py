"""Run due items through the handler registered for their kind.

Handlers are registered per kind (``worker.register("group_buy_deadline", fn)``), so
another feature (journey stage timeouts, issue 7) adds its own kind without touching
this module. A handler must apply its effect with one conditional atomic step and
return whether it took effect; it is called again if the worker dies before the ack.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from engine.scheduler.queue import Claimed, DueQueue

log = logging.getLogger("yutang.worker")

Handler = Callable[[Claimed, datetime], Awaitable[bool]]
Clock = Callable[[], datetime]


class Worker:
    """Claims due items of some queues, fires their handlers, acknowledges them."""

    def __init__(self, *, batch: int = 100, clock: Clock | None = None) -> None:
        self.handlers: dict[str, Handler] = {}
        self.batch = batch
        self.clock = clock or (lambda: datetime.now(UTC))
        self.fired = 0
        self.deliveries = 0

    def register(self, kind: str, handler: Handler) -> None:
        if kind in self.handlers:
            raise ValueError(f"a handler for {kind!r} is already registered")
        self.handlers[kind] = handler

    async def run_once(self, queue: DueQueue) -> int:
        """Fire one batch of due items of ``queue``; return how many were delivered."""
        now = self.clock()
        claimed = await queue.claim(now, self.batch)
        if claimed:
            log.info("claimed %d due item(s) of %s", len(claimed), queue.queue)
        for item in claimed:
            handler = self.handlers.get(item.kind)
            if handler is None:
                log.warning("no handler for due item kind %r (%s); left to lapse and be retried", item.kind, item.id)
                continue
            self.deliveries += 1
            if await handler(item, now):
                self.fired += 1
            await queue.ack(item, self.clock())
        return len(claimed)

    async def run(
        self,
        queues: Callable[[], list[DueQueue]],
        *,
        idle_s: float = 1.0,
        also: list[Callable[[], Awaitable[Any]]] | None = None,
    ) -> None:
        """Forever: drain every queue, run the periodic jobs (hold and reservation expiry), sleep."""
        while True:
            busy = 0
            for queue in queues():
                try:
                    busy += await self.run_once(queue)
                except Exception as err:  # Redis down: keep going, leases make it safe
                    log.warning("scheduler pass on %s failed: %s", queue.queue, err)
            for job in also or []:
                try:
                    await job()
                except Exception as err:
                    log.warning("periodic job failed: %s", err)
            if not busy:
                await asyncio.sleep(idle_s)
