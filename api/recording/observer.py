"""What happens after an event is answered: rule tallies always, the recording when opted in.

Called by the scoring and outcome routes once the response is built. Never fails a
request: a Redis failure while recording loses that line (and is counted by the
guard), nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from api.admin.rule_stats import RuleStats
from api.recording.recorder import EventRecorder
from api.redis_guard import RedisGuard
from engine.errors import StoreUnavailable
from engine.events import Event
from engine.features.keys import KeyBuilder

log = logging.getLogger("yutang.recording")


class Observer:
    """Rule stats of this worker and, when enabled, the event recorder."""

    def __init__(self, *, client: Any, guard: RedisGuard, keys: KeyBuilder, record: bool, max_events: int) -> None:
        self.client = client
        self.guard = guard
        self.stats = RuleStats()
        self.recorder = EventRecorder(keys, max_events=max_events) if record else None

    async def scored(self, tenant: str, event: Event, body: dict[str, Any]) -> None:
        self.stats.add(tenant, body)
        await self.outcome(tenant, event)

    async def outcome(self, tenant: str, event: Event) -> None:
        if self.recorder is None:
            return
        with contextlib.suppress(StoreUnavailable):
            await self.guard.call("record", self.recorder.record(self.client, tenant=tenant, event=event))

    async def run(self, interval_s: float) -> None:
        """Write this worker's rule stats to Redis every ``interval_s`` (and once more on cancel)."""
        try:
            while True:
                await asyncio.sleep(interval_s)
                await self.flush()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush())

    async def flush(self) -> None:
        try:
            await self.stats.flush(self.client)
        except Exception as err:  # kept pending; the next pass retries
            log.debug("rule stats not flushed: %s", err)
