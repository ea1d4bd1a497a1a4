"""Due items in Redis: timeouts and webhook retries, each processed exactly once.

Until the shared scheduler (engine/scheduler) lands this is the journeys' own
queue, kept to the four operations the runner needs so that swapping it is a
one-module change. Layout, one slot per tenant (``yt:{<tenant>:due}``):

- ``:q``  zset item id -> due epoch (waiting)
- ``:l``  zset item id -> lease expiry epoch (claimed by a worker)
- ``:p``  hash item id -> JSON payload

``claim`` moves due items from ``:q`` to ``:l`` in one script, so two workers never
get the same item; an item whose lease expires (its worker died mid-batch) is
claimable again, and ``ack`` removes it for good. Handlers must therefore be
idempotent for the case a worker dies after acting but before acking: the journey
runner makes the *firing* itself a compare-and-set on the customer's state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.datastore.batches import run_batch, text
from engine.datastore.keys import safe_id

CLAIM = """
local now, lease, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
local out = {}
for _, id in ipairs(expired) do
  redis.call('ZADD', KEYS[2], now + lease, id)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[3], id) or ''
end
if #expired < limit then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit - #expired)
  for _, id in ipairs(due) do
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], now + lease, id)
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGET', KEYS[3], id) or ''
  end
end
return out
"""

SCHEDULE = """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 1
"""


@dataclass(frozen=True, slots=True)
class DueItem:
    tenant: str
    id: str
    payload: dict[str, Any]


class DueQueue:
    """Schedule, cancel, claim (with a lease) and acknowledge due items of any tenant."""

    def __init__(self, client: Any, *, lease_s: float = 60.0) -> None:
        self.client = client
        self.lease_s = lease_s
        self._claim = client.register_script(CLAIM)
        self._schedule = client.register_script(SCHEDULE)

    @staticmethod
    def keys(tenant: str) -> tuple[str, str, str]:
        base = f"yt:{{{safe_id(tenant)}:due}}"
        return f"{base}:q", f"{base}:l", f"{base}:p"

    async def schedule(self, *, tenant: str, item_id: str, due_at: float, payload: dict[str, Any]) -> bool:
        """Add or move ``item_id`` to ``due_at``; False when it is being processed right now."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        reply = await run_batch(self.client, [(self._schedule, list(self.keys(tenant)), [item_id, repr(due_at), body])])
        return bool(int(reply[0]))

    async def cancel(self, *, tenant: str, item_ids: list[str]) -> None:
        if not item_ids:
            return
        queued, _, payloads = self.keys(tenant)
        await run_batch(self.client, [("ZREM", queued, *item_ids), ("HDEL", payloads, *item_ids)])

    async def claim(self, *, tenant: str, now: float, limit: int = 100) -> list[DueItem]:
        """Due items (and items whose worker's lease ran out), leased to the caller."""
        reply = (
            await run_batch(self.client, [(self._claim, list(self.keys(tenant)), [repr(now), self.lease_s, limit])])
        )[0]
        items = []
        for i in range(0, len(reply), 2):
            raw = text(reply[i + 1])
            items.append(DueItem(tenant, text(reply[i]), json.loads(raw) if raw else {}))
        return items

    async def ack(self, *, tenant: str, item_ids: list[str]) -> None:
        if not item_ids:
            return
        _, leased, payloads = self.keys(tenant)
        await run_batch(self.client, [("ZREM", leased, *item_ids), ("HDEL", payloads, *item_ids)])

    async def due_at(self, *, tenant: str, item_ids: list[str]) -> list[float | None]:
        if not item_ids:
            return []
        queued, _, _ = self.keys(tenant)
        reply = (await run_batch(self.client, [("ZMSCORE", queued, *item_ids)]))[0]
        return [None if v is None else float(v) for v in reply]

    async def size(self, *, tenant: str) -> tuple[int, int]:
        queued, leased, _ = self.keys(tenant)
        waiting, claimed = await run_batch(self.client, [("ZCARD", queued), ("ZCARD", leased)])
        return int(waiting), int(claimed)
