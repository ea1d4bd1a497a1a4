"""A customer's place in each journey, in Redis, changed only by compare-and-set scripts.

Keys live in the customer's slot (``yt:{<tenant>:cus:<customer>}``, the same hash
tag as the feature store and the ledger), so every script touches one slot:

- ``…:jr:<journey>`` hash: ``stage``, ``since`` (epoch entered), ``seq`` (stays so
  far; a timeout scheduled during stay N is stale in stay N+1), ``last`` (epoch of the
  customer's latest event), ``t:<timeout>`` = due epoch of each armed timeout,
  ``f:<timeout>`` = the due item that fired it during this stay.
- ``…:jr:<journey>:seen`` zset: event ids already applied (a retried event is a no-op).
- ``…:jr:<journey>:log`` list: the customer's transitions and firings, newest first.

Why compare-and-set: conditions are evaluated in Python between the read and the
write; the script refuses the write when another request moved the customer first,
and the runner re-reads and re-evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.offers.slots import CustomerKeys, run_batch, text

SEEN_KEEP = 200
LOG_KEEP = 100

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


def _pairs(reply: Any) -> list[tuple[Any, Any]]:
    items = list(reply or [])
    return list(zip(items[0::2], items[1::2], strict=True))
