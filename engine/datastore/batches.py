"""Send a request's script calls and plain commands in one round trip, and map failures.

``run_batch`` pipelines script calls (one per hash slot) and plain commands; ``Writes``
folds a request's write-only commands into one script call per slot. Connection
failures and timeouts surface as :class:`~engine.errors.StoreUnavailable`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import RedisCluster
from redis.commands.core import AsyncScript
from redis.crc import key_slot

from engine.errors import StoreUnavailable

#: Errors that mean "Redis is unreachable or too slow", never "the script is wrong".
UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
    redis_errors.MasterDownError,
    redis_errors.BusyLoadingError,
    TimeoutError,
    ConnectionError,
)


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn connection failures and timeouts into ``StoreUnavailable``."""
    try:
        yield
    except StoreUnavailable:
        raise
    except UNAVAILABLE as err:
        raise StoreUnavailable(f"redis: {err}") from err


ScriptCall = tuple[AsyncScript, Sequence[str], Sequence[Any]]
Command = tuple[Any, ...]  # a plain command: name, then arguments


async def run_batch(client: Any, calls: Sequence[ScriptCall | Command]) -> list[Any]:
    """Run script calls (one per slot) and plain commands in one round trip.

    A single call goes straight out. Several go in one non-transactional pipeline of
    raw EVALSHAs: redis-py's script-aware pipeline would spend an extra SCRIPT EXISTS
    round trip on every execute; a script Redis does not know (restarted, flushed) is
    loaded and run again. A cluster pipeline routes each command, raw EVALSHAs
    included, to the node owning its keys' slot (one round trip per node, in
    parallel, on one connection each).
    """
    if not calls:
        return []
    with store_errors():
        if len(calls) == 1:
            return [await _run_one(client, calls[0])]
        pipe = client.pipeline(transaction=False)
        for call in calls:
            if isinstance(call[0], AsyncScript):
                script, keys, args = call
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
            else:
                pipe.execute_command(*call)
        results: list[Any] = await pipe.execute(raise_on_error=False)
        for index, result in enumerate(results):
            if isinstance(result, redis_errors.NoScriptError):
                results[index] = await _run_one(client, calls[index])
            elif isinstance(result, Exception):
                raise result
        return results


#: Plain write commands folded into one script call: ARGV holds, per command, its name,
#: the index of its key in KEYS, how many arguments follow, then those arguments.
FOLDED_WRITES = """
local i = 1
while i <= #ARGV do
  local n = tonumber(ARGV[i + 2])
  redis.call(ARGV[i], KEYS[tonumber(ARGV[i + 1])], unpack(ARGV, i + 3, i + 2 + n))
  i = i + 3 + n
end
return 1
"""


class Writes:
    """Sends the write-only calls of a request in one round trip, its plain commands folded.

    redis-py spends ~20 µs of client CPU on each command of a pipeline, so the plain
    commands (``(name, key, *args)``, key first) go as one script call per hash slot
    instead; script calls stay as they are. Nothing is read back.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cluster = isinstance(client, RedisCluster)
        self.script = client.register_script(FOLDED_WRITES)

    async def send(self, calls: Sequence[ScriptCall | Command]) -> list[Any]:
        """Send ``calls``; the script calls' replies in their places of ``calls`` (None for a plain command)."""
        scripts: list[ScriptCall | Command] = []
        places: list[int] = []
        by_slot: dict[int, list[Command]] = {}
        for place, call in enumerate(calls):
            if isinstance(call[0], AsyncScript):
                scripts.append(call)
                places.append(place)
            else:
                slot = key_slot(str(call[1]).encode()) if self.cluster else 0
                by_slot.setdefault(slot, []).append(call)
        results = await run_batch(self.client, [*scripts, *(self._fold(commands) for commands in by_slot.values())])
        replies: list[Any] = [None] * len(calls)
        for place, result in zip(places, results, strict=False):
            replies[place] = result
        return replies

    def _fold(self, commands: Sequence[Command]) -> ScriptCall | Command:
        if len(commands) == 1:
            return commands[0]
        keys: dict[str, int] = {}
        args: list[Any] = []
        for name, key, *rest in commands:
            index = keys.setdefault(str(key), len(keys) + 1)
            args += [name, index, len(rest), *rest]
        return (self.script, list(keys), args)


async def _run_one(client: Any, call: ScriptCall | Command) -> Any:
    if isinstance(call[0], AsyncScript):
        script, keys, args = call
        return await script(keys=list(keys), args=list(args))
    return await client.execute_command(*call)


def text(value: Any) -> str:
    """A reply as ``str`` whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else str(value)
