"""Fold a request's write-only commands into one script call per hash slot, and read replies as text.

Everything here travels through the one runner, :func:`engine.datastore.scripts.run_batch`
(re-exported, with its call types, for the packages that import them from here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import RedisCluster
from redis.crc import key_slot

from engine.datastore.scripts import AnyCall, Call, Command, Script, ScriptCall, run_batch

__all__ = ["FOLDED_WRITES", "Command", "ScriptCall", "Writes", "run_batch", "text"]


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
_FOLDED = Script.inline("folded writes", FOLDED_WRITES)


class Writes:
    """Sends the write-only calls of a request in one round trip, its plain commands folded.

    redis-py spends ~20 µs of client CPU on each command of a pipeline, so the plain
    commands (``(name, key, *args)``, key first) go as one script call per hash slot
    instead; script calls stay as they are, and only their replies are read back.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cluster = isinstance(client, RedisCluster)

    async def send(self, calls: Sequence[AnyCall]) -> list[Any]:
        """Send ``calls``; the script calls' replies in their places of ``calls`` (None for a plain command)."""
        scripts: list[AnyCall] = []
        places: list[int] = []
        by_slot: dict[int, list[Command]] = {}
        for place, call in enumerate(calls):
            if isinstance(call, Call) or not isinstance(call[0], str):
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

    def _fold(self, commands: Sequence[Command]) -> AnyCall:
        if len(commands) == 1:
            return commands[0]
        keys: dict[str, int] = {}
        args: list[Any] = []
        for name, key, *rest in commands:
            index = keys.setdefault(str(key), len(keys) + 1)
            args += [name, index, len(rest), *rest]
        return Call(_FOLDED, list(keys), args)


def text(value: Any) -> str:
    """A reply as ``str`` whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else str(value)
