"""CoalescingRedis: concurrent commands share one pipeline, and each caller still gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from engine.datastore.coalescing import CoalescingRedis
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
