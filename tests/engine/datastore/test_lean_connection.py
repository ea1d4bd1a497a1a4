"""The lean connection under the failures a production worker meets: a hung server, a starved loop, restarts.

Every test runs a real server (``EmbeddedRedis``), stopped with SIGSTOP where it must hang
with its socket open, and the client the engine builds from settings (``client_from_url``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import uvloop
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from engine.datastore.coalescing import CoalescingRedis
from engine.datastore.connection import RedisSettings, client_from_url
from engine.datastore.embedded import EmbeddedRedis, free_port
from engine.datastore.scripts import run_batch


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("lean"), port=free_port()).start()
    try:
        yield server
    finally:
        assert server.pid is not None
        os.kill(server.pid, signal.SIGCONT)
        server.stop()


@pytest.fixture
async def client(redis_server: EmbeddedRedis) -> AsyncIterator[CoalescingRedis]:
    client = client_from_url(redis_server.url, RedisSettings(socket_timeout=0.3))
    assert isinstance(client, CoalescingRedis)
    await client.flushdb()
    yield client
    await client.aclose()


async def test_a_hung_server_times_out_once_per_round_trip_and_leaves_no_stale_reply(own_server: EmbeddedRedis) -> None:
    """SIGSTOP: the connection is open, nothing answers. Every caller fails within the one timer of its round trip
    (not one timer per command, which 40 commands in a row would add up), and after SIGCONT each command reads
    its own reply, never the late one of a command that timed out."""
    client = client_from_url(own_server.url, RedisSettings(socket_timeout=0.3))
    try:
        await client.set("k", "before")
        assert own_server.pid is not None
        os.kill(own_server.pid, signal.SIGSTOP)
        began = time.monotonic()
        results = await asyncio.gather(*(client.incr("n") for _ in range(40)), return_exceptions=True)
        waited = time.monotonic() - began
        assert all(isinstance(r, RedisTimeoutError) for r in results), results
        assert 0.25 < waited < 1.0
        os.kill(own_server.pid, signal.SIGCONT)
        assert await client.get("k") == b"before"
        assert [await client.set("k", str(i)) and await client.get("k") for i in range(5)] == [
            str(i).encode() for i in range(5)
        ]
    finally:
        await client.aclose()


@pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"])
def test_replies_that_came_while_the_loop_was_starved_are_read_not_timed_out(
    redis_server: EmbeddedRedis, loop_factory: Callable[[], asyncio.AbstractEventLoop]
) -> None:
    """A worker starved for longer than the timeout (a busy box, a long synchronous step) with replies already
    in its socket answers them: the timer must not win over the reply that arrived before it fired. uvloop (what
    ``yutang serve`` runs) fires a pass's timers before it polls the sockets; asyncio polls first."""

    async def starved() -> list[int]:
        client = client_from_url(redis_server.url, RedisSettings(socket_timeout=0.2))
        try:
            await client.set("starved", 0)
            pending = asyncio.gather(*(client.incr("starved") for _ in range(30)))
            for _ in range(3):  # the tasks queue their commands, the write goes out
                await asyncio.sleep(0)
            time.sleep(0.5)  # the loop is blocked 2.5x the timeout; the server answered long ago
            return sorted(await pending)
        finally:
            await client.aclose()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        assert runner.run(starved()) == list(range(1, 31))


async def test_replies_have_the_shapes_redis_py_gives(client: CoalescingRedis, redis_server: EmbeddedRedis) -> None:
    """Callers written against redis-py (rule store, cases, journeys) read dicts, sets, bools and floats."""
    plain = Redis.from_url(redis_server.url)
    try:
        await plain.hset("h", mapping={"a": 1, "b": 2})
        await plain.sadd("s", "x", "y")
        await plain.zadd("z", {"m": 1.5, "n": 2})
        await plain.set("k", "v")
        for name, args in [
            ("hgetall", ("h",)), ("smembers", ("s",)), ("zrange", ("z", 0, -1)), ("get", ("k",)), ("exists", ("k",)),
            ("set", ("k2", "v")), ("set", ("k", "w", None, None, True)), ("hmget", ("h", "a", "zz")), ("ttl", ("k",)),
            ("zscore", ("z", "m")), ("zmscore", ("z", ["m", "nope"])), ("hget", ("h", "nope")), ("type", ("h",)),
        ]:  # fmt: skip
            ours, theirs = await getattr(client, name)(*args), await getattr(plain, name)(*args)
            assert ours == theirs and type(ours) is type(theirs), (name, ours, theirs)
        assert await client.zrange("z", 0, -1, withscores=True) == await plain.zrange("z", 0, -1, withscores=True)
        async with client.pipeline(transaction=False) as pipe:  # the pooled path agrees with the lean one
            pipe.hgetall("h").smembers("s")
            assert await pipe.execute() == [await client.hgetall("h"), await client.smembers("s")]
    finally:
        await plain.aclose()


async def test_send_many_goes_out_as_one_write_with_errors_in_place(client: CoalescingRedis) -> None:
    replies = await client.send_many([("SET", "m", "1"), ("EVALSHA", "0" * 40, 0), ("INCR", "m"), ("HGETALL", "m")])
    assert replies[0] is True and isinstance(replies[1], NoScriptError) and replies[2] == 2
    assert isinstance(replies[3], ResponseError)  # WRONGTYPE: its own reply, the others stand


async def test_a_bad_argument_fails_its_caller_alone(client: CoalescingRedis) -> None:
    results = await asyncio.gather(client.set("a", "1"), client.set("b", None), client.get("a"), return_exceptions=True)  # type: ignore[arg-type]
    assert results[0] is True and results[2] == b"1"
    assert "b" not in [k.decode() for k in await client.keys("*")]
    assert isinstance(results[1], Exception) and not isinstance(results[1], RedisConnectionError)


async def test_the_url_s_password_and_db_are_used(own_server: EmbeddedRedis) -> None:
    admin = client_from_url(own_server.url, RedisSettings())
    try:
        await admin.config_set("requirepass", "s3cret")
        wrong = client_from_url(own_server.url.replace("redis://", "redis://:nope@") + "/2", RedisSettings())
        with pytest.raises(AuthenticationError):
            await wrong.ping()
        await wrong.aclose()
        right = client_from_url(own_server.url.replace("redis://", "redis://:s3cret@") + "/2", RedisSettings())
        await right.set("in-db-2", "yes")
        assert await right.execute_command("CLIENT", "INFO") and (await right.get("in-db-2")) == b"yes"
        await right.execute_command("SELECT", 0)  # on its own connection only; db 0 must not hold the key
        assert await right.get("in-db-2") is None
        await right.config_set("requirepass", "")
        await right.aclose()
    finally:
        await admin.aclose()


async def test_load_through_stops_and_restarts_leaves_no_unclosed_transport(own_server: EmbeddedRedis) -> None:
    """The reverted round-trip timer leaked a StreamWriter under load. Here: traffic through a hang (SIGSTOP),
    a stop and a restart, then close; every socket the client opened must be closed, none left to the GC."""
    client = client_from_url(own_server.url, RedisSettings(socket_timeout=0.2, connect_timeout=0.2))
    assert own_server.pid is not None
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)

        async def traffic(rounds: int) -> list[object]:
            out: list[object] = []
            for _ in range(rounds):
                out += await asyncio.gather(*(client.incr("n") for _ in range(25)), return_exceptions=True)
            return out

        assert all(isinstance(r, int) for r in await traffic(4))
        os.kill(own_server.pid, signal.SIGSTOP)
        hung = await traffic(3)
        os.kill(own_server.pid, signal.SIGCONT)
        assert all(isinstance(r, RedisTimeoutError | RedisConnectionError) for r in hung)
        assert all(isinstance(r, int) for r in await traffic(2))
        await asyncio.to_thread(own_server.stop)
        assert all(isinstance(r, RedisConnectionError) for r in await traffic(2))
        await asyncio.to_thread(own_server.start)
        assert all(isinstance(r, int) for r in await traffic(2))
        await client.aclose()
        gc.collect()
    leaks = [w for w in seen if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


async def test_callers_that_give_up_leave_no_unread_error_behind(client: CoalescingRedis) -> None:
    """Clients hang up mid-request (tasks cancelled after the write left): the error replies that arrive for
    nobody are dropped quietly, not logged as "exception was never retrieved" (on a cluster:
    tests/engine/datastore/test_lean_cluster.py)."""
    await client.hset("quit:h", "f", "1")
    loop = asyncio.get_running_loop()
    reported: list[object] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reported.append(context.get("message")))
    try:
        tasks = [
            asyncio.ensure_future(run_batch(client, [("INCR", f"quit{i}"), ("INCR", "quit:h")])) for i in range(30)
        ]
        await asyncio.sleep(0)  # the write has left
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0.05)  # the WRONGTYPE replies arrive for nobody
        del tasks
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert not reported, reported
    assert await client.incr("quit:n") == 1  # the connection stayed in step
