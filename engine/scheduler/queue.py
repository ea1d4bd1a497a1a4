"""A generic queue of due items: group-buy deadlines now, journey stage timeouts later.

Layout (one hash tag per queue, so every script touches one slot -- fine on a cluster):

- ``yt:{sched:<queue>}:due``     zset item -> due epoch (waiting)
- ``yt:{sched:<queue>}:leased``  zset item -> lease expiry (claimed, not acknowledged)
- ``yt:{sched:<queue>}:payload`` hash item -> JSON payload
- ``yt:{sched:<queue>}:token``   hash item -> token of the current claim
- ``yt:{sched:<queue>}:done``    zset item -> acknowledgement time (kept a while, for idempotent scheduling)

An item is ``<kind>|<id>``: kinds are registered by handlers (``group_buy_deadline``,
later ``journey_timeout``). CLAIM moves due items and items whose lease ran out
(a worker died mid-batch) into ``leased`` with a fresh token; ACK removes an item only
for the token that claimed it, so a worker that was presumed dead cannot acknowledge
an item someone else now holds. Delivery is therefore at-least-once; a handler makes
its effect exactly-once by applying it with a conditional atomic step (a state
transition in Lua that happens only from the expected state), so a second delivery
after a lost lease changes nothing. ``fired`` in the ack reply reports whether the
handler's step took effect.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.datastore.batches import run_batch, text
from engine.datastore.keys import PREFIX, safe_id

#: KEYS: due, leased, payload, token. ARGV: now, lease_until, limit, token prefix.
CLAIM = """
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[3])
local out = {}
local function take(item)
  local token = ARGV[4] .. ':' .. redis.call('HINCRBY', KEYS[4], '#', 1)
  redis.call('ZREM', KEYS[1], item)
  redis.call('ZADD', KEYS[2], ARGV[2], item)
  redis.call('HSET', KEYS[4], item, token)
  out[#out + 1] = item
  out[#out + 1] = token
  out[#out + 1] = redis.call('HGET', KEYS[3], item) or ''
end
for _, item in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)) do
  take(item)
end
local left = limit - #out / 3
if left > 0 then
  for _, item in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, left)) do
    take(item)
  end
end
return out
"""

#: KEYS: leased, payload, token, done. ARGV: item, token, now, done_ttl_cutoff.
ACK = """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[4])
return 1
"""

#: KEYS: due, leased, payload, done. ARGV: item, due, payload. Scheduling an item that is
#: waiting moves it; one that is leased or done is left alone (idempotent re-scheduling).
SCHEDULE = """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) or redis.call('ZSCORE', KEYS[4], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 1
"""


#: Every queue that ever had an item scheduled: where ``yutang worker`` looks.
QUEUES_KEY = f"{PREFIX}:{{sched}}:queues"


async def known_queues(client: Any) -> list[str]:
    return sorted(text(q) for q in (await run_batch(client, [("SMEMBERS", QUEUES_KEY)]))[0])


@dataclass(frozen=True, slots=True)
class Claimed:
    kind: str
    id: str
    token: str
    payload: dict[str, Any]

    @property
    def item(self) -> str:
        return f"{self.kind}|{self.id}"


class DueQueue:
    """Schedule, claim and acknowledge due items of one queue (e.g. one tenant)."""

    def __init__(self, client: Any, queue: str, *, lease_s: float = 30.0, done_keep_s: float = 7 * 86400) -> None:
        base = f"{PREFIX}:{{sched:{safe_id(queue)}}}"
        self.client = client
        self.queue = queue
        self.lease_s = lease_s
        self.done_keep_s = done_keep_s
        self.due, self.leased, self.payload = f"{base}:due", f"{base}:leased", f"{base}:payload"
        self.token, self.done = f"{base}:token", f"{base}:done"
        self._claim = client.register_script(CLAIM)
        self._ack = client.register_script(ACK)
        self._schedule = client.register_script(SCHEDULE)

    async def schedule(self, kind: str, item_id: str, due: datetime, payload: dict[str, Any] | None = None) -> bool:
        """Make ``kind|item_id`` due at ``due``; False when it is already claimed or done."""
        if "|" in kind:
            raise ValueError("a kind may not contain '|'")
        body = json.dumps(payload or {}, separators=(",", ":"), ensure_ascii=False)
        keys = [self.due, self.leased, self.payload, self.done]
        reply = await run_batch(self.client, [(self._schedule, keys, [f"{kind}|{item_id}", due.timestamp(), body])])
        await run_batch(self.client, [("SADD", QUEUES_KEY, self.queue)])
        return bool(int(reply[0]))

    async def cancel(self, kind: str, item_id: str) -> None:
        """Forget a waiting item (e.g. the group completed before its deadline)."""
        await run_batch(self.client, [("ZREM", self.due, f"{kind}|{item_id}")])

    async def claim(self, now: datetime, limit: int = 100) -> list[Claimed]:
        """Lease up to ``limit`` due items (and items whose lease ran out) to this caller."""
        args = [now.timestamp(), now.timestamp() + self.lease_s, limit, uuid.uuid4().hex[:8]]
        reply = (
            await run_batch(self.client, [(self._claim, [self.due, self.leased, self.payload, self.token], args)])
        )[0]
        claimed = []
        for i in range(0, len(reply), 3):
            kind, _, item_id = text(reply[i]).partition("|")
            raw = text(reply[i + 2])
            claimed.append(Claimed(kind, item_id, text(reply[i + 1]), json.loads(raw) if raw else {}))
        return claimed

    async def ack(self, claimed: Claimed, now: datetime) -> bool:
        """Done with an item; False when the lease was lost to another worker meanwhile."""
        args = [claimed.item, claimed.token, now.timestamp(), now.timestamp() - self.done_keep_s]
        keys = [self.leased, self.payload, self.token, self.done]
        return bool(int((await run_batch(self.client, [(self._ack, keys, args)]))[0]))

    async def counts(self) -> dict[str, int]:
        replies = await run_batch(self.client, [("ZCARD", self.due), ("ZCARD", self.leased), ("ZCARD", self.done)])
        return {"waiting": int(replies[0]), "leased": int(replies[1]), "done": int(replies[2])}
