"""CoalescingRedis: concurrent commands share one pipeline, and each caller still gets its own answer."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from engine.datastore.coalescing import CoalescingRedis
from engine.datastore.connection import RedisSettings, client_from_url
from engine.datastore.embedded import EmbeddedRedis, free_port


@pytest.fixture
async def client(redis_server: EmbeddedRedis) -> AsyncIterator[CoalescingRedis]:
    client = CoalescingRedis.from_url(redis_server.url, max_connections=64)
    await client.flushdb()
    yield client
    await client.aclose()


async def test_each_concurrent_caller_gets_its_own_reply(client: CoalescingRedis) -> None:
    await asyncio.gather(*(client.set(f"k{i}", f"v{i}") for i in range(200)))
    values = await asyncio.gather(*(client.get(f"k{i}") for i in range(200)))
    assert values == [f"v{i}".encode() for i in range(200)]
    counts = await asyncio.gather(*(client.incr("counter") for _ in range(50)))
    assert sorted(counts) == list(range(1, 51))


async def test_concurrent_commands_go_out_together_on_one_connection(client: CoalescingRedis) -> None:
    sha = await client.script_load("return redis.call('INCR', KEYS[1])")
    await asyncio.gather(*(client.evalsha(sha, 1, "n") for _ in range(100)))
    assert int(await client.get("n")) == 100
    # a plain client would have opened one connection per caller in flight
    assert len(client.connection_pool._available_connections) + len(client.connection_pool._in_use_connections) <= 2


async def test_an_error_reaches_only_its_caller(client: CoalescingRedis) -> None:
    results = await asyncio.gather(
        client.set("a", "1"),
        client.evalsha("0" * 40, 0),
        client.execute_command("NO_SUCH_COMMAND"),
        client.get("a"),
        return_exceptions=True,
    )
    assert results[0] is True and results[3] == b"1"
    assert isinstance(results[1], NoScriptError)
    assert isinstance(results[2], ResponseError)


async def test_a_lost_server_fails_every_caller_and_a_restart_recovers(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = EmbeddedRedis(tmp_path_factory.mktemp("coalescing"), port=free_port()).start()
    client = CoalescingRedis.from_url(server.url, socket_timeout=2)
    try:
        assert await client.set("x", "1")
        server.stop()
        results = await asyncio.gather(*(client.get("x") for _ in range(5)), return_exceptions=True)
        assert all(isinstance(r, RedisConnectionError | OSError) for r in results), results
        server.start()
        assert await client.get("x") == b"1"  # the append-only file kept it
    finally:
        await client.aclose()
        server.stop()


@pytest.fixture
def paused_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("hung"), port=free_port()).start()
    try:
        yield server
    finally:
        assert server.pid is not None
        os.kill(server.pid, signal.SIGCONT)
        server.stop()


async def test_a_hung_server_times_out_once_per_round_trip_and_leaves_no_stale_reply(
    paused_server: EmbeddedRedis,
) -> None:
    """SIGSTOP: the connection is open, nothing answers. Every caller fails within the one timer of its batch
    (not one timer per command, which 40 commands in a row would add up), and after SIGCONT each command reads
    its own reply, never the late one of a command that timed out."""
    client = client_from_url(paused_server.url, RedisSettings(socket_timeout=0.3))
    assert isinstance(client, CoalescingRedis)
    try:
        await client.set("k", "before")
        assert paused_server.pid is not None
        os.kill(paused_server.pid, signal.SIGSTOP)
        began = time.monotonic()
        results = await asyncio.gather(*(client.incr("n") for _ in range(40)), return_exceptions=True)
        batch_s = time.monotonic() - began
        assert all(isinstance(r, TimeoutError) for r in results), results
        assert 0.25 < batch_s < 1.0
        began = time.monotonic()
        async with client.pipeline(transaction=False) as pipe:
            for _ in range(20):
                pipe.get("k")
            with pytest.raises(TimeoutError):
                await pipe.execute()
        assert time.monotonic() - began < 1.0
        os.kill(paused_server.pid, signal.SIGCONT)
        assert await client.get("k") == b"before"
        assert [await client.set("k", str(i)) and await client.get("k") for i in range(5)] == [
            str(i).encode() for i in range(5)
        ]
    finally:
        await client.aclose()


async def test_send_many_goes_out_as_one_batch_with_errors_in_place(client: CoalescingRedis) -> None:
    replies = await client.send_many([("SET", "m", "1"), ("EVALSHA", "0" * 40, 0), ("INCR", "m"), ("HGETALL", "m")])
    assert replies[0] is True and isinstance(replies[1], NoScriptError) and replies[2] == 2
    assert isinstance(replies[3], ResponseError)  # WRONGTYPE: its own reply, the others stand
