"""Several script calls as one EVALSHA: one command per round trip, one reply read back, stops kept atomic.

Why: Redis pays a fixed cost per top-level command beside its work (read and parse it,
write its reply, an AOF entry fsynced under ``appendfsync always``), and the client pays
one future, one reply parse and one error check per command. A scored event sent the
claim, its feature plan, a journey STEP, a reservation's record, a case and the folded
writes as five or more commands; composed, they are two.

The composite script is built from the sub-scripts' own sources, each a local function
over its own ``KEYS`` / ``ARGV`` slice (the globals' names as parameters, so a sub-script
runs unchanged), called in the order of the calls. Its source depends only on the *set*
of distinct scripts (sorted by SHA): which script each call runs, and how many keys and
arguments it takes, travel in ``ARGV``'s head, so a request with two RECORDs and one
with three share a composite and Redis caches a handful of them, never one per request.

- ``gate``: one call is a gate (``True``: the first, an idempotency claim; or its place):
  any reply but nil (``false`` in Lua) stops the composite before the next call, inside
  the same script, so nothing after it runs (a replayed or reused event id records
  nothing). The reply then holds the replies up to the gate's and :func:`split` answers
  :data:`SKIPPED` for the rest.
- Each part also gets ``REPLIES``, the replies of the calls before it: :data:`EXPECT`
  gates on them (the offers' reservations granted as the answer was rendered) and
  :data:`SET_FILLED` writes a value with fields of them (the units left into the kept
  answer). Those two only run inside a composite.
- Each call runs under ``pcall``: a call that fails (a ``redis.call`` error, a Lua error)
  gets its error as its own reply and the calls after it still run, as separate
  commands would have; the runner raises on any error reply, as before.
- Sub-scripts' nil replies come back as nil (held as ``false`` in the reply table, which
  Lua cannot keep a hole in); every other reply converts exactly as it would on its own.

All the calls' keys must be in one hash slot on a cluster (the callers compose per slot).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from redis.commands.core import AsyncScript

from engine.datastore.scripts import AnyCall, Call, Script, run_batch
from engine.errors import StoreUnavailable

#: The reply of a call a gate stopped before it ran.
SKIPPED: Final = object()
_MAX_CACHED = 128

_RUN = """
local calls, gate = tonumber(ARGV[1]), tonumber(ARGV[2])
local out, k, a = {}, 0, 2 + 3 * calls
for i = 1, calls do
  local h = 3 * i
  local nk, na = tonumber(ARGV[h + 1]), tonumber(ARGV[h + 2])
  local ok, reply = pcall(parts[tonumber(ARGV[h])], {unpack(KEYS, k + 1, k + nk)}, {unpack(ARGV, a + 1, a + na)}, out)
  k, a = k + nk, a + na
  if not ok then
    reply = {err = type(reply) == 'table' and reply.err or tostring(reply)}
  elseif reply == nil then
    reply = false
  end
  out[i] = reply
  if i == gate and reply then
    return out
  end
end
return out
"""

#: A gate on earlier replies: nil when each named reply (ARGV: its place, a Lua pattern) is a string matching it.
EXPECT = Script.inline(
    "expect",
    """
for i = 1, #ARGV, 2 do
  local reply = REPLIES[tonumber(ARGV[i])]
  if type(reply) ~= 'string' or not string.find(reply, ARGV[i + 1]) then
    return 'unexpected'
  end
end
return false
""",
)

#: SET KEYS[1] PX ARGV[1] to a value built from pieces and fields of earlier replies: ARGV[2..] alternate a piece
#: and a reference "<place>:<field>" (the field-th '|'-separated field of that reply; ``null`` when empty).
SET_FILLED = Script.inline(
    "set filled",
    """
local value = {}
for i = 2, #ARGV do
  if i % 2 == 0 then
    value[#value + 1] = ARGV[i]
  else
    local place, field = string.match(ARGV[i], '^(%d+):(%d+)$')
    local reply, n, found = REPLIES[tonumber(place)], 0, nil
    for part in string.gmatch(reply .. '|', '([^|]*)|') do
      n = n + 1
      if n == tonumber(field) then found = part break end
    end
    value[#value + 1] = (found == nil or found == '') and 'null' or found
  end
end
redis.call('SET', KEYS[1], table.concat(value), 'PX', ARGV[1])
return false
""",
)

_composites: dict[tuple[str, ...], tuple[Script, dict[str, int]]] = {}


class Stopped(Exception):  # not an error: the gate answered
    """The gate of :func:`run_gated` answered (a claim already taken): the calls after it did not run."""

    def __init__(self, reply: Any) -> None:
        super().__init__("stopped by the gate")
        self.reply = reply


async def run_gated(client: Any, gate: AnyCall, calls: Sequence[AnyCall], *, compose_them: bool = True) -> list[Any]:
    """Run ``gate``, then ``calls`` only when its reply is nil; their replies, or :class:`Stopped`.

    On one server (``compose_them``) gate and calls are one composite script: one round
    trip, and the stop is atomic. On a cluster the gate's slot is not theirs: the gate
    runs first on its own, then the calls (one round trip each).
    """
    scripted = [as_call(c) for c in (gate, *calls)]
    if not compose_them or any(c is None for c in scripted):
        first = (await run_batch(client, [gate]))[0]
        if first is not None:
            raise Stopped(first)
        return await run_batch(client, calls)
    parts = [c for c in scripted if c is not None]
    replies = split((await run_batch(client, [compose(parts, gate=True)]))[0], len(parts))
    if replies[0] is not None:
        raise Stopped(replies[0])
    return checked(parts[1:], replies[1:])


def checked(calls: Sequence[Call], replies: list[Any]) -> list[Any]:
    """``replies``, or :class:`StoreUnavailable` for the first error reply among them (as ``run_batch`` raises)."""
    for call, reply in zip(calls, replies, strict=True):
        if isinstance(reply, Exception):
            raise StoreUnavailable(f"redis {call.script.name} failed: {reply}") from reply
    return replies


def as_call(call: AnyCall) -> Call | None:
    """A script call as a :class:`Call` (a script registered on a client too); None for a plain command."""
    if isinstance(call, Call):
        return call
    if isinstance(call[0], AsyncScript):
        script, keys, args = call
        return Call(_registered(script), keys, args)
    return None


def _registered(script: AsyncScript) -> Script:
    source = script.script.decode() if isinstance(script.script, bytes) else str(script.script)
    found = _scripts.get(script.sha)
    if found is None:
        found = _scripts[script.sha] = Script(name=f"script {script.sha[:8]}", source=source, sha=script.sha)
    return found


_scripts: dict[str, Script] = {}
_known: dict[str, Script] = {}  # every script a composite was built of, by SHA


def parts_of(sha: str) -> list[Script] | None:
    """The scripts a composite runs (for the benches' names); None when ``sha`` is not one this process built."""
    for shas, (script, _) in _composites.items():
        if script.sha == sha:
            return [_known[s] for s in shas]
    return None


def composite(scripts: Sequence[Script]) -> tuple[Script, dict[str, int]]:
    """The composite of these distinct scripts, and each one's index in it (built once per set)."""
    shas = tuple(sorted({s.sha for s in scripts}))
    found = _composites.get(shas)
    if found is not None:
        return found
    by_sha = {s.sha: s for s in scripts}
    _known.update(by_sha)
    parts = ["local parts = {}"]
    index: dict[str, int] = {}
    for number, sha in enumerate(shas, start=1):
        index[sha] = number
        parts.append(f"parts[{number}] = function(KEYS, ARGV, REPLIES)\n{by_sha[sha].source}\nend")
    names = "+".join(by_sha[sha].name for sha in shas)
    found = (Script.inline(f"composed({names})", "\n".join(parts) + _RUN), index)
    if len(_composites) >= _MAX_CACHED:
        _composites.clear()
    _composites[shas] = found
    return found


def compose(calls: Sequence[Call], *, gate: bool | int = False) -> Call:
    """One call running ``calls`` in order; the gate's non-nil reply stops the rest.

    ``gate``: True for the first call, or the 1-based place of the call that gates (0: none).
    """
    script, index = composite([c.script for c in calls])
    keys: list[str] = []
    head: list[Any] = [len(calls), int(gate)]
    args: list[Any] = []
    for call in calls:
        head += [index[call.script.sha], len(call.keys), len(call.args)]
        keys += call.keys
        args += call.args
    return Call(script, keys, head + args)


def split(reply: Any, count: int) -> list[Any]:
    """Each call's reply from the composite's (:data:`SKIPPED` for those a gate stopped)."""
    replies = list(reply) if isinstance(reply, list) else [reply]
    return replies + [SKIPPED] * (count - len(replies))
