"""Session-wide real Redis for every test: one server, and a 3-master cluster on demand.

- ``redis_server``: an :class:`EmbeddedRedis` on a temporary directory and a free TCP
  port, for the whole session.
- ``redis_client``: an async client to it, database flushed before each test, closed
  after it.
- ``tenant``: a tenant id unique to the test (isolation without flushing).
- ``redis_cluster``: a real Redis Cluster of three masters started from the same
  binary, only when a test asks for it (mark such tests ``@pytest.mark.cluster``),
  torn down at session end; ``redis_cluster_client`` connects to it with the engine's
  client (:class:`~engine.datastore.cluster.LeanCluster`), flushing every
  master before each test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis, RedisCluster

from engine.datastore.cluster import LeanCluster
from engine.datastore.embedded import EmbeddedRedis, free_port
from engine.datastore.local_cluster import LocalCluster, start_local_cluster


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis_client(redis_server: EmbeddedRedis) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def tenant() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_local_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture
async def redis_cluster_client(redis_cluster: LocalCluster) -> AsyncIterator[RedisCluster]:
    client = LeanCluster(startup_nodes=redis_cluster.nodes())  # the engine's cluster client
    await client.initialize()
    await client.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield client
    await client.aclose()
