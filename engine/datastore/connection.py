"""Build the async Redis client the feature store uses, from settings.

- no URL: start an :class:`~engine.datastore.embedded.EmbeddedRedis` on a unix socket in
  the data directory and connect to it (stopped again by :meth:`RedisHandle.aclose`);
  when another process already runs one there (``yutang serve``, which supervises it),
  connect to that one's socket instead of starting a second server on its files;
- ``redis://``, ``rediss://``, ``unix://``: :class:`redis.asyncio.Redis`;
- ``redis+cluster://host:port,host:port`` (or ``cluster=True`` / ``REDIS_CLUSTER=1``
  with a ``redis://`` URL): :class:`~engine.datastore.cluster.LeanCluster` (redis-py's
  ``RedisCluster`` whose keyed commands travel on one lean connection per master).

Every round trip is bounded by ``socket_timeout`` (``YUTANG_REDIS_TIMEOUT``, seconds), so
a hung Redis turns into :class:`~engine.errors.StoreUnavailable` instead of a hung request:
by one timer per round trip of the lean connection (:mod:`engine.datastore.wire`), on one
server or on each master of a cluster. Pipelines (``client.pipeline()``, admin reads) and a
cluster's keyless commands use redis-py's pooled connections and their socket timeout.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import AbstractConnection
from redis.backoff import NoBackoff
from redis.connection import HiredisRespSerializer
from redis.retry import Retry
from redis.utils import HIREDIS_AVAILABLE

from engine.datastore.cluster import LeanCluster
from engine.datastore.coalescing import CoalescingRedis
from engine.datastore.embedded import EmbeddedRedis
from engine.datastore.scripts import AnyRedis
from engine.errors import DataDirInUse, StoreUnavailable

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """Where Redis is and how long to wait for it."""

    url: str | None = None
    cluster: bool = False
    data_dir: Path = Path("data")
    socket_timeout: float = 0.5
    connect_timeout: float = 1.0
    max_connections: int = 64

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RedisSettings:
        """Read ``REDIS_URL``, ``REDIS_CLUSTER``, ``YUTANG_DATA_DIR``, ``YUTANG_REDIS_TIMEOUT``."""
        env = os.environ if environ is None else environ
        return cls(
            url=env.get("REDIS_URL") or None,
            cluster=env.get("REDIS_CLUSTER", "").lower() in _TRUE,
            data_dir=Path(env.get("YUTANG_DATA_DIR", "data")),
            socket_timeout=float(env.get("YUTANG_REDIS_TIMEOUT", "0.5")),
        )


@dataclass(slots=True)
class RedisHandle:
    """The client, and the embedded server behind it when yutang started one."""

    client: AnyRedis
    embedded: EmbeddedRedis | None = None

    @property
    def times_round_trips(self) -> bool:
        """Whether the client bounds every round trip itself (the lean connection, on a server or a cluster)."""
        return isinstance(self.client, CoalescingRedis | LeanCluster)

    async def aclose(self) -> None:
        """Close the client, then stop the embedded server (if any)."""
        await self.client.aclose()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)


def client_from_url(url: str, settings: RedisSettings) -> AnyRedis:
    """An async client for ``url`` (see the module docstring for the schemes)."""
    scheme = urlsplit(url).scheme
    if scheme == "redis+cluster" or settings.cluster:
        return _cluster_client(url, settings)
    if scheme not in ("redis", "rediss", "unix"):
        raise StoreUnavailable(f"unsupported REDIS_URL scheme {scheme!r}")
    client = CoalescingRedis.from_url(
        url,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.connect_timeout,
        max_connections=settings.max_connections,
        retry=Retry(NoBackoff(), 1),
    )
    pool = client.connection_pool
    pool.connection_class = hiredis_packing(pool.connection_class)
    return client


def hiredis_packing(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """``connection_class`` packing commands with hiredis' C packer.

    redis-py's sync client packs with hiredis when it is installed; its asyncio client
    packs in Python, about 1.2 µs of CPU per argument, and a scored event sends ~85
    (script keys and arguments). Same bytes on the wire: hiredis formats ints and floats
    as ``repr`` does, and refuses other types as redis-py does (DataError).
    """
    if not HIREDIS_AVAILABLE:
        return connection_class
    found = _HIREDIS_PACKING.get(connection_class)
    if found is None:

        def pack_command(self: AbstractConnection, *args: Any) -> list[bytes]:
            packed: list[bytes] = _SERIALIZER.pack(*args)
            return packed

        found = _HIREDIS_PACKING[connection_class] = type(
            f"Hiredis{connection_class.__name__}", (connection_class,), {"pack_command": pack_command}
        )
    return found


# redis-py 8.2 gave the serializer an untyped __init__: a typed constructor keeps strict mypy clean on both
_new_serializer: Callable[[], HiredisRespSerializer] = HiredisRespSerializer
_SERIALIZER = _new_serializer()
_HIREDIS_PACKING: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def _cluster_client(url: str, settings: RedisSettings) -> LeanCluster:
    parts = urlsplit(url)
    if parts.scheme != "redis+cluster":
        return LeanCluster.from_url(  # type: ignore[return-value]  # from_url is typed as the base class's
            url, socket_timeout=settings.socket_timeout,
            socket_connect_timeout=settings.connect_timeout, max_connections=settings.max_connections,
        )  # fmt: skip
    nodes = []
    for item in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = item.rpartition(":")
        nodes.append(ClusterNode(host or "127.0.0.1", int(port or 6379)))
    return LeanCluster(
        startup_nodes=nodes,
        username=parts.username or None,
        password=parts.password,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.connect_timeout,
        max_connections=settings.max_connections,  # per node; redis-py's default is 100
    )


async def open_redis(settings: RedisSettings) -> RedisHandle:
    """Connect as configured, starting the embedded server when no URL is set."""
    if settings.url:
        client = client_from_url(settings.url, settings)
        if isinstance(client, LeanCluster):
            # Learn the slot map once, up front: redis-py initializes lazily, and a burst of
            # first requests then re-initializes concurrently, dropping connections in use.
            await client.initialize()
        return RedisHandle(client=client)
    server = EmbeddedRedis(settings.data_dir)
    try:
        await asyncio.to_thread(server.start)
    except DataDirInUse:
        return RedisHandle(client=client_from_url(server.url, settings))  # its owner keeps it running
    return RedisHandle(client=client_from_url(server.url, settings), embedded=server)
