"""run_batch, the one runner: script calls and commands in one round trip, on one server, a cluster or a pipeline."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.exceptions import ResponseError

from engine.datastore.connection import RedisSettings, client_from_url
from engine.datastore.embedded import EmbeddedRedis
from engine.datastore.scripts import Call, Script, run_batch, run_one
from engine.errors import StoreUnavailable

INCR_BY = Script.inline("incr by", "return redis.call('INCRBY', KEYS[1], ARGV[1])")


async def _check_runner(client: Any, key: str) -> None:
    await client.script_flush()  # every server forgot the script: NOSCRIPT, then EVAL for those calls alone
    registered = client.register_script("return redis.call('GET', KEYS[1])")
    replies = await run_batch(
        client, [Call(INCR_BY, [key], [2]), ("INCR", key), (registered, [key], []), Call(INCR_BY, [key], [10])]
    )
    # the plain INCR ran in the first pass; the three script calls were repeated, in their order, after it
    assert replies[0] == 3 and replies[1] == 1 and int(replies[2]) == 3 and replies[3] == 13
    replies = await run_batch(client, [Call(INCR_BY, [key], [0]), (registered, [key], [])])  # cached now: one pass
    assert replies[0] == 13 and int(replies[1]) == 13
    assert await run_one(client, ("GET", key)) == b"13"
    await client.hset(f"{key}:h", "f", "1")
    with pytest.raises(StoreUnavailable) as refused:
        await run_batch(client, [("INCR", key), ("INCR", f"{key}:h")])  # WRONGTYPE: Redis answered, refusing one
    assert isinstance(refused.value.__cause__, ResponseError)
    assert await run_one(client, ("GET", key)) == b"14"  # the other command of the batch ran


async def test_the_engine_client_runs_scripts_and_commands_with_noscript_retried(redis_server: EmbeddedRedis) -> None:
    client = client_from_url(redis_server.url, RedisSettings())
    try:
        await client.delete("runner")
        await _check_runner(client, "runner")
    finally:
        await client.aclose()


async def test_a_plain_client_pipelines_the_same_batch(redis_client: Redis) -> None:
    await _check_runner(redis_client, "runner-plain")


@pytest.mark.cluster
async def test_a_cluster_routes_the_same_batch(redis_cluster_client: RedisCluster) -> None:
    await _check_runner(redis_cluster_client, "{runner}")


async def test_nothing_to_run_costs_no_round_trip() -> None:
    assert await run_batch(object(), []) == []
