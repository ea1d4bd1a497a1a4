"""The one way the engine runs Redis work: script calls and plain commands, one round trip, failures mapped.

``run_batch`` takes a request's calls (a :class:`Call` of a packaged :class:`Script`, a
``(registered script, keys, args)`` tuple, or a plain command ``(name, *args)``) and
answers their replies in order. Every package (features, offers, journeys, scheduler,
group-buys, cases) goes through it, so how calls travel is decided here once:

- the engine's client on one server (:class:`~engine.datastore.coalescing.CoalescingRedis`):
  the calls join the current loop pass's write on the lean connection, with every other
  request's (one write, one read, one timer for all of them);
- a cluster client: one non-transactional pipeline of raw EVALSHAs and commands, which
  redis-py routes by each call's keys (one round trip per node, in parallel);
- any other client (a plain ``redis.asyncio.Redis`` in tests, replay's batching client):
  its pipeline, or its own ``evalsha`` for a client without one.

Scripts are sent by SHA; a server that does not know one yet (first use, a restart, a
new cluster node) answers NOSCRIPT and that call alone is repeated with EVAL, which also
caches the script there: it then runs after the rest of its batch (as it did with redis-py's
pipeline), so a batch must not rely on a script call running before a plain command of the
same batch on the same key. Every failure surfaces as :class:`StoreUnavailable`, never as a
bare redis-py exception; the cause says whether Redis was unreachable (a connection or
timeout error) or refused one call (a ``ResponseError``).
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
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisClusterException, RedisError

from engine.errors import StoreUnavailable

AnyRedis = Redis | RedisCluster
Arg = str | int | float | bytes


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script run by its SHA."""

    name: str
    source: str
    sha: str

    @classmethod
    def load(cls, package: str, name: str) -> Script:
        """``<package>/scripts/<name>``: each package ships the scripts it runs."""
        return cls.inline(name, resources.files(package).joinpath("scripts", name).read_text("utf-8"))

    @classmethod
    def inline(cls, name: str, source: str) -> Script:
        """A script whose source lives in a Python module."""
        return cls(name=name, source=source, sha=hashlib.sha1(source.encode()).hexdigest())


@dataclass(frozen=True, slots=True)
class Call:
    """One script invocation: its keys and arguments (all keys in one hash slot on a cluster)."""

    script: Script
    keys: Sequence[str]
    args: Sequence[Arg]


ScriptCall = tuple[AsyncScript, Sequence[str], Sequence[Any]]  # a script registered on the client
Command = tuple[Any, ...]  # a plain command: name, then arguments
AnyCall = Call | ScriptCall | Command


@asynccontextmanager
async def guarded(what: str) -> AsyncIterator[None]:
    """Turn redis-py and socket failures into :class:`StoreUnavailable`."""
    try:
        yield
    except StoreUnavailable:
        raise
    except (TimeoutError, RedisError, RedisClusterException, OSError) as exc:
        raise StoreUnavailable(f"redis {what} failed: {type(exc).__name__}: {exc}") from exc


def is_cluster(client: AnyRedis) -> bool:
    return isinstance(client, RedisCluster)


async def run_one(client: Any, call: AnyCall) -> Any:
    """One call on its own (see :func:`run_batch`)."""
    return (await run_batch(client, [call]))[0]


async def run_batch(client: Any, calls: Sequence[AnyCall]) -> list[Any]:
    """Run ``calls`` in one round trip; their replies in order, or :class:`StoreUnavailable`."""
    if not calls:
        return []
    wire = [_wire(call) for call in calls]
    async with guarded(_name(calls[0]) if len(calls) == 1 else "batch"):
        replies = await _send(client, wire)
        retry = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if retry:
            again = await _send(client, [_eval(calls[i]) for i in retry])
            for i, reply in zip(retry, again, strict=True):
                replies[i] = reply
        for index, reply in enumerate(replies):
            if isinstance(reply, Exception):
                raise StoreUnavailable(f"redis {_name(calls[index])} failed: {reply}") from reply
    return replies


async def _send(client: Any, commands: list[Command]) -> list[Any]:
    """Each command's reply or its error reply, in order; a connection failure or timeout raises."""
    send_many = getattr(client, "send_many", None)
    if send_many is not None:
        replies: list[Any] = await send_many(commands)
        return replies
    if hasattr(client, "pipeline"):
        # execute_command: redis-py's cluster pipeline refuses .evalsha() but routes a raw EVALSHA by its keys' slot
        async with client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            results: list[Any] = await pipe.execute(raise_on_error=False)
        return results
    # replay's PipelinedClient batches every script call it is handed by itself
    return list(await asyncio.gather(*(_script_method(client, c) for c in commands), return_exceptions=True))


def _script_method(client: Any, command: Command) -> Any:
    method = client.evalsha if command[0] == "EVALSHA" else client.eval
    return method(*command[1:])


def _wire(call: AnyCall) -> Command:
    if isinstance(call, Call):
        return ("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)
    if isinstance(call[0], AsyncScript):
        script, keys, args = call
        return ("EVALSHA", script.sha, len(keys), *keys, *args)
    return call


def _eval(call: AnyCall) -> Command:
    if isinstance(call, Call):
        return ("EVAL", call.script.source, len(call.keys), *call.keys, *call.args)
    script, keys, args = call
    source = script.script.decode() if isinstance(script.script, bytes) else script.script
    return ("EVAL", source, len(keys), *keys, *args)


def _name(call: AnyCall) -> str:
    if isinstance(call, Call):
        return call.script.name
    return "script" if isinstance(call[0], AsyncScript) else str(call[0])
