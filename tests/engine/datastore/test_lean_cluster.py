"""The engine's cluster client under attack and faults: resharding under load, redirects, a hung master, restarts.

Every test runs on the session's local 3-master cluster and leaves it as it found it (slots
moved back, masters resumed).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from api.metrics import Metrics
from api.redis_guard import RedisGuard
from engine.datastore.cluster import LeanCluster
from engine.datastore.connection import RedisSettings, client_from_url
from engine.datastore.local_cluster import LocalCluster
from engine.datastore.scripts import Call, Script, run_batch
from engine.errors import StoreUnavailable

pytestmark = pytest.mark.cluster

#: Adds ARGV[1] to two counters of one slot: partly migrated, the slot answers TRYAGAIN.
BUMP_BOTH = Script.inline(
    "bump both", "redis.call('INCRBY', KEYS[1], ARGV[1]) return redis.call('INCRBY', KEYS[2], ARGV[1])"
)
TIMEOUT_S = 0.4


@pytest.fixture
async def lean(redis_cluster: LocalCluster) -> AsyncIterator[LeanCluster]:
    """The engine's client as ``yutang serve`` builds it from ``REDIS_URL``, with a short timeout."""
    client = client_from_url(redis_cluster.url, RedisSettings(socket_timeout=TIMEOUT_S, connect_timeout=TIMEOUT_S))
    assert isinstance(client, LeanCluster)
    await client.initialize()
    yield client
    await client.aclose()


@pytest.fixture
async def masters(redis_cluster: LocalCluster) -> AsyncIterator[dict[int, Redis]]:
    """A plain client to each master, by port (to move slots and read what they hold)."""
    clients = {port: Redis(port=port) for port in redis_cluster.ports}
    yield clients
    for client in clients.values():
        await client.aclose()


async def _owner(masters: dict[int, Redis], slot: int) -> int:
    for entry in await next(iter(masters.values())).execute_command("CLUSTER SLOTS"):
        if int(entry[0]) <= slot <= int(entry[1]):
            return int(entry[2][1])
    raise AssertionError(f"slot {slot} has no owner")


async def _move_slot(masters: dict[int, Redis], slot: int, source: int, target: int, *, pause_s: float = 0.0) -> None:
    """Migrate ``slot`` (and its keys, a few at a time) from master ``source`` to ``target``, as redis-cli does."""
    ids = {port: (await client.execute_command("CLUSTER MYID")).decode() for port, client in masters.items()}
    await masters[target].execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[source])
    await masters[source].execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[target])
    while keys := await masters[source].execute_command("CLUSTER GETKEYSINSLOT", slot, 2):
        await masters[source].execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
        await asyncio.sleep(pause_s)
    for port in (target, source, *(p for p in masters if p not in (source, target))):
        await masters[port].execute_command("CLUSTER SETSLOT", slot, "NODE", ids[target])


def _elsewhere(masters: dict[int, Redis], port: int) -> int:
    return next(p for p in masters if p != port)


async def test_a_burst_through_a_resharding_loses_no_write(lean: LeanCluster, masters: dict[int, Redis]) -> None:
    # The attacker's timing: the operator moves the slot while a burst of writes is in flight; every write
    # lands once (MOVED and ASK are followed, TRYAGAIN waited out), every caller gets an answer.
    tag = "{reshard}"
    slot = key_slot(tag[1:-1].encode())
    source = await _owner(masters, slot)
    target = _elsewhere(masters, source)
    keys = [f"{tag}:c{i}" for i in range(12)]
    await lean.delete(*keys)

    async def writer(n: int) -> None:
        for i in range(40):
            a, b = keys[(n + i) % len(keys)], keys[(n + i + 1) % len(keys)]
            await run_batch(lean, [Call(BUMP_BOTH, [a, b], [1]), ("INCR", keys[n % len(keys)])])
            await asyncio.sleep(0)

    try:
        await asyncio.gather(*(writer(n) for n in range(8)), _move_slot(masters, slot, source, target, pause_s=0.005))
        assert await _owner(masters, slot) == target
        counts = [int(v or 0) for v in await lean.mget(*keys)]
        assert sum(counts) == 8 * 40 * 3  # two INCRBYs and one INCR per iteration, none lost, none doubled
        assert await masters[source].execute_command("CLUSTER COUNTKEYSINSLOT", slot) == 0
        # the stale map was corrected: the next round trip goes straight to the new owner
        assert await run_batch(lean, [("INCR", keys[0])]) == [counts[0] + 1]
    finally:
        await _move_slot(masters, slot, await _owner(masters, slot), source)


async def test_moved_during_a_burst_answers_every_caller(lean: LeanCluster, masters: dict[int, Redis]) -> None:
    # The client's map is stale for a whole burst: 200 callers in one loop pass all hit MOVED and are all answered.
    tag = "{moved}"
    slot = key_slot(tag[1:-1].encode())
    source = await _owner(masters, slot)
    await _move_slot(masters, slot, source, _elsewhere(masters, source))
    try:
        replies = await asyncio.gather(*(run_batch(lean, [("INCR", f"{tag}:n")]) for _ in range(200)))
        assert sorted(r[0] for r in replies) == list(range(1, 201))
        refresh = lean._refresh  # the MOVED burst re-read the whole map once, in the background
        assert refresh is not None
        await refresh
        assert lean._owners[slot] == ("127.0.0.1", await _owner(masters, slot))
    finally:
        await _move_slot(masters, slot, await _owner(masters, slot), source)


async def test_a_slot_stuck_half_migrated_fails_its_caller_in_time(
    lean: LeanCluster, masters: dict[int, Redis]
) -> None:
    # A script over two keys of one slot, one already migrated: TRYAGAIN until socket_timeout, then StoreUnavailable;
    # the other slots keep answering, and the call succeeds once the migration completes.
    tag = "{stuck}"
    slot = key_slot(tag[1:-1].encode())
    source = await _owner(masters, slot)
    target = _elsewhere(masters, source)
    ids = {port: (await client.execute_command("CLUSTER MYID")).decode() for port, client in masters.items()}
    await lean.set(f"{tag}:a", 1)
    await lean.set(f"{tag}:b", 1)
    await masters[target].execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[source])
    await masters[source].execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[target])
    await masters[source].execute_command("MIGRATE", "127.0.0.1", target, f"{tag}:a", 0, 5000)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"TRYAGAIN|Multiple keys"):
            await run_batch(lean, [Call(BUMP_BOTH, [f"{tag}:a", f"{tag}:b"], [1])])
        assert TIMEOUT_S * 0.5 <= time.monotonic() - started <= TIMEOUT_S + 1.0
        assert await run_batch(lean, [("INCR", "{elsewhere}:n")]) == [1]
    finally:
        await _move_slot(masters, slot, source, target)
    assert await run_batch(lean, [Call(BUMP_BOTH, [f"{tag}:a", f"{tag}:b"], [1])]) == [2]
    assert [int(v) for v in await lean.mget(f"{tag}:a", f"{tag}:b")] == [2, 2]  # the refused calls wrote nothing
    await _move_slot(masters, slot, target, source)


async def test_a_hung_master_fails_only_its_callers_within_the_timeout(
    lean: LeanCluster, masters: dict[int, Redis], redis_cluster: LocalCluster, caplog: pytest.LogCaptureFixture
) -> None:
    # SIGSTOP: the socket stays open and nothing answers. Its callers get StoreUnavailable within the timeout;
    # callers on the other masters in the same loop pass are answered; the breaker opens once, and closes again.
    hung = redis_cluster.servers[0]
    assert hung.pid is not None and hung.port is not None
    owners = {k: await _owner(masters, key_slot(k.encode())) for k in (f"k{i}" for i in range(200))}
    hung_keys = [k for k, port in owners.items() if port == hung.port][:20]
    live_keys = [k for k, port in owners.items() if port != hung.port][:20]
    guard = RedisGuard(metrics=Metrics(), timeout_s=None, breaker_s=0.3)

    async def call(key: str) -> tuple[str, float]:
        started = time.monotonic()
        try:
            await guard.call("score", run_batch(lean, [("INCR", key)]))
        except StoreUnavailable:
            return "unavailable", time.monotonic() - started
        return "answered", time.monotonic() - started

    await run_batch(lean, [("INCR", hung_keys[0])])  # the link to it is open
    caplog.set_level(logging.INFO, logger="yutang.redis")
    os.kill(hung.pid, signal.SIGSTOP)
    try:
        results = await asyncio.gather(*(call(k) for k in hung_keys), *(call(k) for k in live_keys))
    finally:
        os.kill(hung.pid, signal.SIGCONT)
    assert all(r == "unavailable" and t <= TIMEOUT_S + 0.5 for r, t in results[: len(hung_keys)])
    assert all(r == "answered" for r, _ in results[len(hung_keys) :])
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "Redis lost" in caplog.records[0].message and len(caplog.records) == 1
    await asyncio.sleep(0.35)  # the breaker's pause
    assert (await call(hung_keys[1]))[0] == "answered"  # reconnected to the resumed master
    assert "Redis back" in caplog.records[-1].message


async def test_no_unclosed_transport_after_a_lost_connection_and_a_restart(
    redis_cluster: LocalCluster, masters: dict[int, Redis]
) -> None:
    # Connections killed under the client (a master restarting), then the client closed with commands in flight:
    # nothing leaks (a ResourceWarning is an error under pytest's filterwarnings, but only if collected in time).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):  # stop and restart the client itself too
            client = client_from_url(redis_cluster.url, RedisSettings(socket_timeout=TIMEOUT_S))
            await client.initialize()
            await asyncio.gather(*(client.incr(f"k{i}") for i in range(30)))
            for master in masters.values():
                await master.execute_command("CLIENT KILL", "TYPE", "normal", "SKIPME", "yes")
            settled: list[Any] = await asyncio.gather(
                *(client.incr(f"k{i}") for i in range(30)), return_exceptions=True
            )
            assert all(isinstance(s, int | Exception) for s in settled)
            assert await client.incr("k0") > 0  # reconnected
            pending = [asyncio.ensure_future(client.incr(f"k{i}")) for i in range(30)]
            await asyncio.sleep(0)
            await client.aclose()
            await asyncio.gather(*pending, return_exceptions=True)
            del client, pending
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


async def test_the_urls_password_opens_every_masters_lean_link(
    redis_cluster: LocalCluster, masters: dict[int, Redis]
) -> None:
    # A cluster that requires a password: the URL's password is sent on each master's lean connection; a caller
    # without it, or with a wrong one, gets StoreUnavailable, never a reply and never a 5xx-shaped crash.
    for master in masters.values():
        await master.config_set("requirepass", "cluster-secret")
    hosts = redis_cluster.url.removeprefix("redis+cluster://")
    try:
        good = client_from_url(f"redis+cluster://:cluster-secret@{hosts}", RedisSettings(socket_timeout=TIMEOUT_S))
        try:
            await good.initialize()
            keys = [f"auth{i}" for i in range(30)]  # spread over the three masters
            assert {await _owner(masters, key_slot(k.encode())) for k in keys} == set(masters)
            assert await run_batch(good, [("INCR", k) for k in keys]) == [1] * len(keys)
        finally:
            await good.aclose()
        for url in (f"redis+cluster://{hosts}", f"redis+cluster://:wrong@{hosts}"):
            bad = client_from_url(url, RedisSettings(socket_timeout=TIMEOUT_S))
            try:
                with pytest.raises(StoreUnavailable):  # the slot map is read on first use, as a request would
                    await run_batch(bad, [("INCR", "auth0")])
            finally:
                await bad.aclose()
    finally:
        for master in masters.values():
            await master.config_set("requirepass", "")
    again = client_from_url(redis_cluster.url, RedisSettings())
    assert await run_batch(again, [("GET", "auth0")]) == [b"1"]  # the refused calls wrote nothing
    await again.aclose()
