"""A local Redis Cluster of three embedded redis-servers, for tests and benchmarks.

``start_local_cluster(base)`` starts three cluster-enabled servers (``masters=`` another number) (the binary of
:mod:`engine.datastore.embedded`) on free TCP ports whose bus ports (+10000) are free
too, gives each a third of the 16384 slots, joins them and waits until every node
reports ``cluster_state:ok``. ``LocalCluster.url`` is the ``redis+cluster://`` URL
yutang reads from ``REDIS_URL``; ``stop()`` shuts the servers down.
"""

from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.asyncio.cluster import ClusterNode

from engine.datastore.embedded import EmbeddedRedis

CLUSTER_SLOTS = 16384


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

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


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


def start_local_cluster(base: Path, masters: int = 3) -> LocalCluster:
    """Start ``masters`` cluster-enabled servers under ``base``, assign the slots, wait for ``ok``."""
    ports = [_cluster_port() for _ in range(masters)]
    servers = [
        EmbeddedRedis(
            base / f"node{i}",
            port=ports[i],
            config={"cluster-enabled": "yes", "cluster-config-file": "nodes.conf",
                    "cluster-node-timeout": "5000", "appendfsync": "no"},
        ).start()
        for i in range(masters)
    ]  # fmt: skip
    clients = [redis.Redis(port=port) for port in ports]
    try:
        share = CLUSTER_SLOTS // len(servers)
        for i, client in enumerate(clients):
            last = CLUSTER_SLOTS if i == len(servers) - 1 else (i + 1) * share
            client.execute_command("CLUSTER ADDSLOTS", *range(i * share, last))  # type: ignore[no-untyped-call]
        for port in ports[1:]:
            clients[0].execute_command("CLUSTER MEET", "127.0.0.1", port)  # type: ignore[no-untyped-call]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            infos = [c.execute_command("CLUSTER INFO") for c in clients]  # type: ignore[no-untyped-call]
            if all(_cluster_ok(info, masters) for info in infos):
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


def _cluster_ok(info: object, masters: int) -> bool:
    """CLUSTER INFO (parsed into a dict by redis-py) says: all slots served, all nodes known."""
    if not isinstance(info, dict):
        return False
    return str(info.get("cluster_state")) == "ok" and int(info.get("cluster_known_nodes", 0)) == masters
