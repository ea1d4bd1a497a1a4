"""Fold a request's write-only commands into one script call per hash slot, and read replies as text.

Everything here travels through the one runner, :func:`engine.datastore.scripts.run_batch`
(re-exported, with its call types, for the packages that import them from here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio import RedisCluster
from redis.crc import key_slot

from engine.datastore.compose import Stopped, as_call, checked, compose, split
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
    """Sends the write-only calls of a request in one round trip: one composite script per hash slot.

    redis-py spends ~20 µs of client CPU on each command of a pipeline and Redis a fixed
    cost on each top-level command, so the plain commands (``(name, key, *args)``, key
    first) are folded into one script call per hash slot, and that slot's script calls
    and folded writes are composed into one script (:mod:`engine.datastore.compose`): the
    script calls in order, then the folded writes. Only the script calls' replies are read back.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cluster = isinstance(client, RedisCluster)

    async def send(self, calls: Sequence[AnyCall]) -> list[Any]:
        """Send ``calls``; the script calls' replies in their places of ``calls`` (None for a plain command)."""
        scripts: dict[int, list[tuple[int, Call]]] = {}
        alone: list[tuple[int, AnyCall]] = []  # keyless script calls, a lone plain command: sent as they are
        by_slot: dict[int, list[Command]] = {}
        for place, call in enumerate(calls):
            script = as_call(call)
            if script is None:
                command = cast(Command, call)
                by_slot.setdefault(self._slot(command[1]), []).append(command)
            elif script.keys:
                scripts.setdefault(self._slot(script.keys[0]), []).append((place, script))
            else:
                alone.append((place, call))
        for slot, commands in by_slot.items():
            if len(commands) == 1 and slot not in scripts:
                alone.append((-1, commands[0]))  # one plain command needs no script
            else:
                scripts.setdefault(slot, []).append((-1, self._fold(commands)))
        groups = list(scripts.values())
        sent: list[AnyCall] = [c for _, c in alone]
        for group in groups:
            sent.append(group[0][1] if len(group) == 1 else compose([c for _, c in group]))
        results = await run_batch(self.client, sent)
        replies: list[Any] = [None] * len(calls)
        for (place, _), result in zip(alone, results, strict=False):
            if place >= 0:
                replies[place] = result
        for group, result in zip(groups, results[len(alone) :], strict=True):
            parts = [result] if len(group) == 1 else checked([c for _, c in group], split(result, len(group)))
            for (place, _), reply in zip(group, parts, strict=True):
                if place >= 0:
                    replies[place] = reply
        return replies

    async def send_after(
        self, first: Sequence[AnyCall], gate: Call, calls: Sequence[AnyCall]
    ) -> tuple[list[Any], list[Any]]:
        """``first``, then ``gate`` (it reads their replies), then ``calls`` as :meth:`send` orders them: one script.

        One server only (the calls share no slot on a cluster). The replies of ``first``
        and those of ``calls`` in their places; :class:`~engine.datastore.compose.Stopped`
        with ``first``'s replies when the gate answered (none of ``calls`` ran).
        """
        if self.cluster:
            raise ValueError("send_after composes calls of several slots: one server only")
        head = [as_call(c) for c in first]
        if any(c is None for c in head):
            raise ValueError("send_after: the first calls must be script calls")
        scripted: list[tuple[int, Call]] = []
        commands: list[Command] = []
        for place, call in enumerate(calls):
            script = as_call(call)
            if script is None:
                commands.append(cast(Command, call))
            else:
                scripted.append((place, script))
        if commands:
            scripted.append((-1, self._fold(commands)))
        parts = [*(c for c in head if c is not None), gate, *(c for _, c in scripted)]
        replies = split((await run_batch(self.client, [compose(parts, gate=len(head) + 1)]))[0], len(parts))
        answered = replies[: len(head)]
        if replies[len(head)] is not None:
            raise Stopped(answered)
        placed: list[Any] = [None] * len(calls)
        for (place, _), reply in zip(
            scripted, checked([c for _, c in scripted], replies[len(head) + 1 :]), strict=True
        ):
            if place >= 0:
                placed[place] = reply
        return answered, placed

    def _slot(self, key: Any) -> int:
        return key_slot(str(key).encode()) if self.cluster else 0

    def _fold(self, commands: Sequence[Command]) -> Call:
        keys: dict[str, int] = {}
        args: list[Any] = []
        for name, key, *rest in commands:
            index = keys.setdefault(str(key), len(keys) + 1)
            args += [name, index, len(rest), *rest]
        return Call(_FOLDED, list(keys), args)


def text(value: Any) -> str:
    """A reply as ``str`` whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else str(value)
