"""A fresh, isolated feature store for one replay: its own redis-server, its own tenant.

The server is the embedded one the service uses when no ``REDIS_URL`` is set, in a
temporary data directory that is deleted afterwards, without an append-only file (a
replay's counters are worth nothing after it ends). Nothing a replay records can
reach a live store, and no live counter can leak into a replay.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from engine.datastore.embedded import EmbeddedRedis
from engine.features.builder import StoreSettings
from engine.features.store import FeatureStore

#: A log may be dated ahead of this host's clock (a simulated December): never clamp it, and let its
#: windows slide on the events' own times (the skew guard of windows.py is for callers, not history).
REPLAY_SETTINGS = StoreSettings(max_future_skew_s=100 * 365 * 86_400, event_clock=True)


@dataclass(frozen=True, slots=True)
class Sandbox:
    store: FeatureStore
    client: Redis
    tenant: str
    secret: bytes

    def store_on(self, client: Any) -> FeatureStore:
        """Another feature store over the same keys (same secret), e.g. on a batching client."""
        return FeatureStore(client, secret=self.secret, settings=REPLAY_SETTINGS)


@asynccontextmanager
async def throwaway_redis(prefix: str = "yutang-replay-") -> AsyncIterator[EmbeddedRedis]:
    """A redis-server of its own in a temporary directory, without an AOF, deleted afterwards.

    Replays and the pack's scenarios (``yutang test``) run on one, so nothing they
    record reaches a live store.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as data_dir:
        server = EmbeddedRedis(data_dir, config={"appendonly": "no"})
        await asyncio.to_thread(server.start)
        try:
            yield server
        finally:
            await asyncio.to_thread(server.stop)


@asynccontextmanager
async def sandbox() -> AsyncIterator[Sandbox]:
    """Start a throw-away redis-server and a feature store on a unique tenant."""
    async with throwaway_redis() as server:
        client = Redis.from_url(server.url, socket_timeout=30)
        try:
            secret = os.urandom(32)
            store = FeatureStore(client, secret=secret, settings=REPLAY_SETTINGS)
            yield Sandbox(store=store, client=client, tenant=f"replay-{secrets.token_hex(6)}", secret=secret)
        finally:
            await client.aclose()
