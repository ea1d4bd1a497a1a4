"""What a feature-store test runs against: a client, and plain clients to every node."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis, RedisCluster

from engine.features.store import FeatureStore

SECRET = b"test-secret-0123456789abcdef"


@dataclass
class Backend:
    """The client the store uses, and plain clients to every node (to inspect raw keys)."""

    name: str
    client: Redis | RedisCluster
    nodes: list[Redis]

    def store(self) -> FeatureStore:
        return FeatureStore(self.client, secret=SECRET)

    async def raw_keys(self) -> list[tuple[Redis, bytes]]:
        """Every key on every node."""
        found: list[tuple[Redis, bytes]] = []
        for node in self.nodes:
            found.extend([(node, key) async for key in node.scan_iter(count=500)])
        return found
