"""Session-wide real Redis for every test: one server, and a 3-master cluster on demand.

- ``redis_server``: an :class:`EmbeddedRedis` on a temporary directory and a free TCP
  port, for the whole session.
- ``redis_client``: an async client to it, database flushed before each test, closed
  after it.
- ``tenant``: a tenant id unique to the test (isolation without flushing).
- ``redis_cluster``: a real Redis Cluster of three masters started from the same
  binary, only when a test asks for it (mark such tests ``@pytest.mark.cluster``),
  torn down at session end; ``redis_cluster_client`` connects to it, flushing every
  master before each test.
"""

from __future__ import annotations

import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode

from engine.redis_embedded import EmbeddedRedis, free_port

CLUSTER_SLOTS = 16384


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


@dataclass
class LocalCluster:
    """Three cluster-enabled redis-server processes owning all 16384 slots."""

    servers: list[EmbeddedRedis]

    @property
    def ports(self) -> list[int]:
        return [s.port for s in self.servers if s.port is not None]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def nodes(self) -> list[ClusterNode]:
        return [ClusterNode("127.0.0.1", p) for p in self.ports]


def _cluster_port() -> int:
    """A free port below 55536 whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for the local cluster")


def _start_cluster(base: Path) -> LocalCluster:
    servers = [
        EmbeddedRedis(
            base / f"node{i}",
            port=_cluster_port(),
            config={"cluster-enabled": "yes", "cluster-config-file": "nodes.conf",
                    "cluster-node-timeout": "5000", "appendfsync": "no"},
        ).start()
        for i in range(3)
    ]  # fmt: skip
    clients = [redis.Redis(port=s.port) for s in servers]
    try:
        share = CLUSTER_SLOTS // len(servers)
        for i, client in enumerate(clients):
            last = CLUSTER_SLOTS if i == len(servers) - 1 else (i + 1) * share
            client.execute_command("CLUSTER ADDSLOTS", *range(i * share, last))
        for server in servers[1:]:
            clients[0].execute_command("CLUSTER MEET", "127.0.0.1", server.port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            infos = [c.execute_command("CLUSTER INFO") for c in clients]
            if all(_cluster_ok(info) for info in infos):
                return LocalCluster(servers)
            time.sleep(0.1)
        raise RuntimeError("local redis cluster did not converge")
    except BaseException:
        for server in servers:
            server.stop()
        raise
    finally:
        for client in clients:
            client.close()


def _cluster_ok(info: object) -> bool:
    """CLUSTER INFO (parsed into a dict by redis-py) says: all slots served, all nodes known."""
    if not isinstance(info, dict):
        return False
    return str(info.get("cluster_state")) == "ok" and int(info.get("cluster_known_nodes", 0)) == 3


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = _start_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    for server in cluster.servers:
        server.stop()


@pytest.fixture
async def redis_cluster_client(redis_cluster: LocalCluster) -> AsyncIterator[RedisCluster]:
    client = RedisCluster(startup_nodes=redis_cluster.nodes())
    await client.initialize()
    await client.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield client
    await client.aclose()
