"""Run the store's Lua scripts by EVALSHA, on one server or a cluster, and map failures.

Scripts are sent by SHA; a server that does not know one yet (first use, a restart,
a new cluster node) answers NOSCRIPT and the call is repeated once with EVAL, which
also caches the script there. On a cluster the calls of one request go out in one
pipeline (redis-py routes each to the node owning its keys' slot) and only the calls
that failed with NOSCRIPT are repeated.

Every connection or timeout failure surfaces as :class:`StoreUnavailable`, never as
a bare redis-py exception.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from engine.errors import StoreUnavailable

AnyRedis = Redis | RedisCluster
Arg = str | int | float


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script shipped as package data, run by its SHA."""

    name: str
    source: str
    sha: str

    @classmethod
    def load(cls, package: str, name: str) -> Script:
        """``<package>/scripts/<name>``: each package ships the scripts it runs."""
        source = resources.files(package).joinpath("scripts", name).read_text("utf-8")
        return cls(name=name, source=source, sha=hashlib.sha1(source.encode()).hexdigest())


@dataclass(frozen=True, slots=True)
class Call:
    """One script invocation: its keys and arguments (all keys in one hash slot on a cluster)."""

    script: Script
    keys: Sequence[str]
    args: Sequence[Arg]


@asynccontextmanager
async def guarded(what: str) -> AsyncIterator[None]:
    """Turn redis-py and socket failures into :class:`StoreUnavailable`."""
    try:
        yield
    except (TimeoutError, RedisError, RedisClusterException, OSError) as exc:
        raise StoreUnavailable(f"redis {what} failed: {type(exc).__name__}: {exc}") from exc


def is_cluster(client: AnyRedis) -> bool:
    return isinstance(client, RedisCluster)


async def run_one(client: AnyRedis, call: Call) -> Any:
    """EVALSHA one call, falling back to EVAL when the server lacks the script."""
    keys, args = list(call.keys), list(call.args)
    async with guarded(call.script.name):
        try:
            return await client.evalsha(call.script.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(call.script.source, len(keys), *keys, *args)


async def run_many(client: AnyRedis, calls: Sequence[Call]) -> list[Any]:
    """Run several calls in one pipelined round trip; results in call order.

    Replay's ``PipelinedClient`` has no ``pipeline()``: it batches every queued call itself,
    so there the calls are simply sent together.
    """
    if len(calls) == 1:
        return [await run_one(client, calls[0])]
    if not hasattr(client, "pipeline"):
        return list(await asyncio.gather(*(run_one(client, call) for call in calls)))
    async with guarded("pipeline"), client.pipeline(transaction=False) as pipe:
        for call in calls:
            # execute_command: redis-py's cluster pipeline refuses .evalsha() but routes
            # a raw EVALSHA by its keys' slot
            pipe.execute_command("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)
        results: list[Any] = await pipe.execute(raise_on_error=False)
    retry = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
    if retry:
        again = await asyncio.gather(*(run_one(client, calls[i]) for i in retry))
        for i, result in zip(retry, again, strict=True):
            results[i] = result
    for result in results:
        if isinstance(result, RedisError):
            raise StoreUnavailable(f"redis script failed: {result}") from result
    return results
