"""A customer's place in each journey, in Redis, changed only by compare-and-set scripts.

Keys live in the customer's slot (``yt:{<tenant>:cus:<customer>}``, the same hash
tag as the feature store and the ledger), so every script touches one slot:

- ``…:jr:<journey>`` hash: ``stage``, ``since`` (epoch entered), ``seq`` (stays so
  far; a timeout scheduled during stay N is stale in stay N+1), ``last`` (epoch of the
  customer's latest event), ``t:<timeout>`` = due epoch of each armed timeout,
  ``f:<timeout>`` = the due item that fired it during this stay.
- ``…:jr:<journey>:seen`` zset: event ids already applied (a retried event is a no-op).
- ``…:jr:<journey>:log`` list: the customer's transitions and firings, newest first.

An event goes through STEP: its moves were decided in Python beforehand as
``(stage, to, log entry)`` choices (engine.journeys.moves), and the script reads the
stage and takes the first choice for it, for every journey of the customer in one call
(their keys share the slot): one round trip per event, atomic against concurrent events
and the timeout worker. A choice whose condition reads the stay (days in stage, days
silent) is an *ask*: the script changes nothing and the runner falls back to APPLY_EVENT,
a compare-and-set: conditions are evaluated in Python between a read and the write; the
script refuses the write when another request moved the customer first, and the runner
re-reads and re-evaluates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.datastore.batches import ScriptCall, run_batch, text
from engine.datastore.keys import CustomerKeys

SEEN_KEEP = 200  # event ids remembered per journey (STEP keeps 200-232: it trims once per 32)
LOG_KEEP = 100

#: KEYS: (state, seen, log) of each journey. ARGV: event id, epoch, seen keep, log keep, then for each
#: journey: start stage, number of choices, (stage, to, log entry) per choice; to = '' asks.
#: Returns per journey {status, stage, seq, since, last, choice taken (1-based, 0: none), armed
#: timeout ids...}; status ok | moved | dup | ask (nothing written: evaluate against the stay first).
STEP = """
local epoch = tonumber(ARGV[2])
local function step(state, seen, log, start, first, after)
  if redis.call('ZSCORE', seen, ARGV[1]) then
    local s = redis.call('HMGET', state, 'stage', 'seq', 'since', 'last')
    return {'dup', s[1] or start, s[2] or '0', s[3] or '0', s[4] or '0', 0}
  end
  local s = redis.call('HMGET', state, 'stage', 'seq', 'since', 'last', 'n')
  local stored = s[1]
  local stage = stored or start
  local pick = 0
  for i = first, after - 1, 3 do
    if ARGV[i] == stage then pick = i break end
  end
  if pick > 0 and ARGV[pick + 1] == '' then return {'ask', stage, '0', '0', '0', 0} end
  -- every field this event sets, in one HSET at the end (the reply is built from them)
  local set = {}
  if not stored then
    s[1], s[2], s[3] = stage, '0', ARGV[2]
    set[#set + 1] = 'stage'; set[#set + 1] = stage; set[#set + 1] = 'since'; set[#set + 1] = ARGV[2]
    set[#set + 1] = 'seq'; set[#set + 1] = '0'
  end
  if epoch > tonumber(s[4] or '0') then
    s[4] = ARGV[2]
    set[#set + 1] = 'last'; set[#set + 1] = ARGV[2]
  end
  local status, armed = 'ok', {}
  for _, field in ipairs(redis.call('HKEYS', state)) do
    local kind = string.sub(field, 1, 2)
    if pick > 0 and (kind == 't:' or kind == 'f:') then redis.call('HDEL', state, field)
    elseif kind == 't:' then armed[#armed + 1] = string.sub(field, 3) end
  end
  if pick > 0 then
    s[1], s[2], s[3] = ARGV[pick + 1], tostring(tonumber(s[2] or '0') + 1), ARGV[2]
    set[#set + 1] = 'stage'; set[#set + 1] = s[1]; set[#set + 1] = 'since'; set[#set + 1] = ARGV[2]
    set[#set + 1] = 'seq'; set[#set + 1] = s[2]
    redis.call('LPUSH', log, ARGV[pick + 2])
    redis.call('LTRIM', log, 0, tonumber(ARGV[4]) - 1)
    status = 'moved'
  end
  -- n: ids added to `seen` since its last trim (an upper bound of its size): trimmed to the
  -- newest `keep` once it holds 32 more, not on every event
  local keep, n = tonumber(ARGV[3]), tonumber(s[5] or '0') + 1
  redis.call('ZADD', seen, epoch, ARGV[1])
  if n > keep + 32 then
    redis.call('ZREMRANGEBYRANK', seen, 0, -1 - keep)
    n = keep
  end
  set[#set + 1] = 'n'; set[#set + 1] = n
  redis.call('HSET', state, unpack(set))
  local reply = {status, s[1], s[2], s[3], s[4] or '0', pick > 0 and (pick - first) / 3 + 1 or 0}
  for _, id in ipairs(armed) do reply[#reply + 1] = id end
  return reply
end
local replies, at = {}, 5
for k = 1, #KEYS, 3 do
  local count = tonumber(ARGV[at + 1])
  replies[#replies + 1] = step(KEYS[k], KEYS[k + 1], KEYS[k + 2], ARGV[at], at + 2, at + 2 + 3 * count)
  at = at + 2 + 3 * count
end
return replies
"""

#: The fallback of STEP's ask, a compare-and-set.
#: KEYS: state, seen, log. ARGV: event_id, epoch, start, expected, to, log entry.
#: Returns {status, stage, seq, since, last}; status ok | moved | dup | conflict.
APPLY_EVENT = """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  local s = redis.call('HMGET', KEYS[1], 'stage', 'seq', 'since', 'last')
  return {'dup', s[1] or ARGV[3], s[2] or '0', s[3] or '0', s[4] or '0'}
end
local epoch = tonumber(ARGV[2])
local stage = redis.call('HGET', KEYS[1], 'stage')
if not stage then
  stage = ARGV[3]
  redis.call('HSET', KEYS[1], 'stage', stage, 'since', ARGV[2], 'seq', 0)
end
if stage ~= ARGV[4] then
  local s = redis.call('HMGET', KEYS[1], 'seq', 'since', 'last')
  return {'conflict', stage, s[1], s[2], s[3] or '0'}
end
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
if epoch > last then redis.call('HSET', KEYS[1], 'last', ARGV[2]) end
local status = 'ok'
if ARGV[5] ~= '' then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(field, 1, 2) == 't:' or string.sub(field, 1, 2) == 'f:' then redis.call('HDEL', KEYS[1], field) end
  end
  redis.call('HSET', KEYS[1], 'stage', ARGV[5], 'since', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'seq', 1)
  redis.call('LPUSH', KEYS[3], ARGV[6])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[8]) - 1)
  status = 'moved'
end
redis.call('ZADD', KEYS[2], epoch, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[7]))
local s = redis.call('HMGET', KEYS[1], 'stage', 'seq', 'since', 'last')
return {status, s[1], s[2], s[3], s[4] or '0'}
"""

#: KEYS: state, log. ARGV: timeout id, item id, seq, to, epoch, log entry, log keep.
#: Returns 'fired' (first time), 'again' (this item fired it before: finish its actions)
#: or 'stale' (another stay, or disarmed).
FIRE = """
local s = redis.call('HMGET', KEYS[1], 'seq', 'f:' .. ARGV[1])
if s[2] == ARGV[2] then return 'again' end
if s[1] ~= ARGV[3] or s[2] then return 'stale' end
if not redis.call('HGET', KEYS[1], 't:' .. ARGV[1]) then return 'stale' end
redis.call('HDEL', KEYS[1], 't:' .. ARGV[1])
redis.call('HSET', KEYS[1], 'f:' .. ARGV[1], ARGV[2])
redis.call('LPUSH', KEYS[2], ARGV[6])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[7]) - 1)
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'stage', ARGV[4], 'since', ARGV[5])
  redis.call('HINCRBY', KEYS[1], 'seq', 1)
end
return 'fired'
"""

#: KEYS: state. ARGV: seq, then (field, due) pairs. Arms timeouts only if still in that stay.
ARM = """
if redis.call('HGET', KEYS[1], 'seq') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], 't:' .. ARGV[i], ARGV[i + 1])
  redis.call('HDEL', KEYS[1], 'f:' .. ARGV[i])
end
return 1
"""


@dataclass(frozen=True, slots=True)
class JourneyState:
    stage: str
    seq: int
    since: float
    last: float
    armed: dict[str, float]  # timeout id -> due epoch
    fired: dict[str, str]  # timeout id -> due item that fired it this stay


@dataclass(frozen=True, slots=True)
class Step:
    """One journey's part of a STEP call: its start stage and the event's choices, (stage, to, entry)."""

    journey: str
    start: str
    choices: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True, slots=True)
class Stepped:
    status: str  # ok | moved | dup | ask
    stage: str
    seq: int
    since: float
    last: float
    choice: int  # index of the choice taken, -1 if none
    armed: frozenset[str]  # timeouts armed in the stay (status ok)


@dataclass(frozen=True, slots=True)
class Applied:
    status: str  # ok | moved | dup | conflict
    stage: str
    seq: int
    since: float
    last: float


class JourneyStore:
    """Read and change customers' journey state with the scripts above."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._step = client.register_script(STEP)
        self._apply = client.register_script(APPLY_EVENT)
        self._fire = client.register_script(FIRE)
        self._arm = client.register_script(ARM)

    @staticmethod
    def key(tenant: str, customer: str, journey: str) -> str:
        return f"{CustomerKeys(tenant, customer).base}:jr:{journey}"

    async def read(self, *, tenant: str, customer: str, journey: str, start: str) -> JourneyState:
        raw = (await run_batch(self.client, [("HGETALL", self.key(tenant, customer, journey))]))[0]
        fields = {text(k): text(v) for k, v in (raw.items() if isinstance(raw, dict) else _pairs(raw))}
        return JourneyState(
            stage=fields.get("stage", start),
            seq=int(fields.get("seq", 0)),
            since=float(fields.get("since", 0)),
            last=float(fields.get("last", 0)),
            armed={k[2:]: float(v) for k, v in fields.items() if k.startswith("t:")},
            fired={k[2:]: v for k, v in fields.items() if k.startswith("f:")},
        )

    async def step(
        self, *, tenant: str, customer: str, event_id: str, epoch: float, steps: Sequence[Step]
    ) -> list[Stepped]:
        """Apply an event to several journeys of one customer in one script call (one round trip)."""
        call = self.step_call(tenant=tenant, customer=customer, event_id=event_id, epoch=epoch, steps=steps)
        return stepped((await run_batch(self.client, [call]))[0])

    def step_call(
        self, *, tenant: str, customer: str, event_id: str, epoch: float, steps: Sequence[Step]
    ) -> ScriptCall:
        """The STEP script call of :meth:`step`, to send with other calls (its reply: :func:`stepped`)."""
        keys: list[str] = []
        args: list[Any] = [event_id, repr(epoch), SEEN_KEEP, LOG_KEEP]
        for step in steps:
            key = self.key(tenant, customer, step.journey)
            keys += [key, f"{key}:seen", f"{key}:log"]
            args += [step.start, len(step.choices)]
            for choice in step.choices:
                args += choice
        return (self._step, keys, args)

    async def apply(
        self, *, tenant: str, customer: str, journey: str, event_id: str, epoch: float, start: str,
        expected: str, to: str, log: str,
    ) -> Applied:  # fmt: skip
        key = self.key(tenant, customer, journey)
        args = [event_id, repr(epoch), start, expected, to, log, SEEN_KEEP, LOG_KEEP]
        reply = (await run_batch(self.client, [(self._apply, [key, f"{key}:seen", f"{key}:log"], args)]))[0]
        status, stage, seq, since, last = (text(v) for v in reply)
        return Applied(status, stage, int(seq), float(since), float(last))

    async def arm(self, *, tenant: str, customer: str, journey: str, seq: int, due: dict[str, float]) -> bool:
        if not due:
            return True
        args: list[Any] = [str(seq)]
        for timeout_id, at in due.items():
            args += [timeout_id, repr(at)]
        key = self.key(tenant, customer, journey)
        return bool(int((await run_batch(self.client, [(self._arm, [key], args)]))[0]))

    async def fire(
        self, *, tenant: str, customer: str, journey: str, timeout_id: str, item_id: str, seq: int, to: str,
        epoch: float, log: str,
    ) -> str:  # fmt: skip
        key = self.key(tenant, customer, journey)
        args = [timeout_id, item_id, str(seq), to, repr(epoch), log, LOG_KEEP]
        return text((await run_batch(self.client, [(self._fire, [key, f"{key}:log"], args)]))[0])

    async def history(self, *, tenant: str, customer: str, journey: str, limit: int) -> list[str]:
        key = self.key(tenant, customer, journey)
        return [text(r) for r in (await run_batch(self.client, [("LRANGE", f"{key}:log", 0, limit - 1)]))[0]]


def stepped(replies: Any) -> list[Stepped]:
    """A STEP reply: one :class:`Stepped` per journey, in the order of the steps sent."""
    return [_stepped(reply) for reply in replies]


def _stepped(reply: Any) -> Stepped:
    status, stage, seq, since, last = (text(v) for v in reply[:5])
    return Stepped(status, stage, int(seq), float(since), float(last), int(reply[5]) - 1,
                   frozenset(text(v) for v in reply[6:]))  # fmt: skip


def _pairs(reply: Any) -> list[tuple[Any, Any]]:
    items = list(reply or [])
    return list(zip(items[0::2], items[1::2], strict=True))
