"""拼团: open -> (members join) -> completed, or at the deadline -> failed | virtual.

Every group of one offer lives in the offer's slot ``{<tenant>:gb:<offer>}``, beside
the offer's counters (groups opened, groups per customer), so opening, joining and
the deadline are each one Lua script: two customers racing for the last place, or a
join racing the deadline, can never overfill a group or join a closed one.

- ``opened``       groups ever opened (``total_groups``)
- ``cust``         hash customer -> groups they are in (``per_customer``; a failed group gives it back)
- ``g:<id>``       hash: state, size, deadline, virtual_min, leader, n
- ``g:<id>:m``     hash customer -> JSON member (event, order, amount, payment)
- ``fired``        deadlines that changed a group (each group at most once)

A failed group flags every member's payment ``refund_due``; a virtual completion
(虚拟成团, where the pack allows it with ``virtual_min``) completes the group as is.
The deadline is a due item (engine.scheduler) of kind ``group_buy_deadline``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.datastore.batches import run_batch, text
from engine.datastore.keys import PREFIX, safe_id
from engine.model import Offer

DEADLINE_KIND = "group_buy_deadline"

#: KEYS: opened, cust, g, m. ARGV: customer, size, deadline, virtual_min (-1), total (-1),
#: per_customer (-1), member JSON, now. A group that exists: 'member|<state>' for a retry
#: of its opening (the customer is in it; nothing changes, the deadline stays), else 'exists'.
OPEN = """
if redis.call('EXISTS', KEYS[3]) == 1 then
  if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then return 'member|' .. redis.call('HGET', KEYS[3], 'state') end
  return 'exists'
end
local total, per = tonumber(ARGV[5]), tonumber(ARGV[6])
if total >= 0 and tonumber(redis.call('GET', KEYS[1]) or '0') >= total then return 'total_limit' end
if per >= 0 and tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') >= per then return 'customer_limit' end
redis.call('INCR', KEYS[1])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('HSET', KEYS[3], 'state', 'open', 'size', ARGV[2], 'deadline', ARGV[3], 'virtual_min', ARGV[4],
  'leader', ARGV[1], 'n', 1, 'opened_at', ARGV[8])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[7])
return 'open'
"""

#: KEYS: cust, g, m. ARGV: customer, per_customer (-1), now, member JSON.
#: Returns 'joined|<state>', 'member|<state>' (already in: idempotent), or a refusal.
JOIN = """
local g = redis.call('HMGET', KEYS[2], 'state', 'size', 'deadline', 'n')
if not g[1] then return 'unknown_group' end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 'member|' .. g[1] end
if g[1] ~= 'open' then return 'closed|' .. g[1] end
if tonumber(ARGV[3]) > tonumber(g[3]) then return 'closed|deadline_passed' end
local per = tonumber(ARGV[2])
if per >= 0 and tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') >= per then return 'customer_limit' end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
local n = redis.call('HINCRBY', KEYS[2], 'n', 1)
local state = 'open'
if n >= tonumber(g[2]) then
  state = 'completed'
  redis.call('HSET', KEYS[2], 'state', state, 'closed_at', ARGV[3])
end
return 'joined|' .. state
"""

#: KEYS: cust, g, m, fired. ARGV: now. Changes an open group once; else 'noop'.
DEADLINE = """
local g = redis.call('HMGET', KEYS[2], 'state', 'deadline', 'virtual_min', 'n')
if not g[1] or g[1] ~= 'open' then return 'noop' end
if tonumber(ARGV[1]) < tonumber(g[2]) then return 'early' end
local state = 'failed'
if tonumber(g[3]) > 0 and tonumber(g[4]) >= tonumber(g[3]) then
  state = 'virtual'
else
  local members = redis.call('HGETALL', KEYS[3])
  for i = 1, #members, 2 do
    local member = cjson.decode(members[i + 1])
    member['payment'] = 'refund_due'
    redis.call('HSET', KEYS[3], members[i], cjson.encode(member))
    if redis.call('HINCRBY', KEYS[1], members[i], -1) <= 0 then redis.call('HDEL', KEYS[1], members[i]) end
  end
end
redis.call('HSET', KEYS[2], 'state', state, 'closed_at', ARGV[1])
redis.call('INCR', KEYS[4])
return state
"""


@dataclass(frozen=True, slots=True)
class JoinResult:
    outcome: str  # open | joined | member | refused
    state: str | None  # the group's state after the call
    reason: str | None = None  # refusals: total_limit, customer_limit, closed, deadline_passed, unknown_group


@dataclass(frozen=True, slots=True)
class GroupState:
    group_id: str
    offer_id: str
    state: str  # open | completed | virtual | failed
    size: int
    members: list[dict[str, Any]]
    deadline: datetime
    leader: str


def new_group_id(offer_id: str, event_id: str | None = None) -> str:
    """``<offer>.<12 hex>``: the offer (and so the slot) is readable from the id.

    With the opening event's id the suffix is its digest, so a retried opening names the
    same group (and replays its scored join) instead of opening another one.
    """
    if event_id is None:
        return f"{offer_id}.{uuid.uuid4().hex[:12]}"
    return f"{offer_id}.{hashlib.blake2b(event_id.encode(), digest_size=6, person=b'yt-groupbuy').hexdigest()}"


def offer_of(group_id: str) -> str:
    return group_id.partition(".")[0]


class GroupBuyBook:
    """Opens and joins groups, and closes them at their deadline."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._open = client.register_script(OPEN)
        self._join = client.register_script(JOIN)
        self._deadline = client.register_script(DEADLINE)

    @staticmethod
    def _base(tenant: str, offer_id: str) -> str:
        return f"{PREFIX}:{{{safe_id(tenant)}:gb:{safe_id(offer_id)}}}"

    def _keys(self, tenant: str, group_id: str) -> dict[str, str]:
        base = self._base(tenant, offer_of(group_id))
        gid = safe_id(group_id.partition(".")[2])
        return {
            "opened": f"{base}:opened",
            "cust": f"{base}:cust",
            "g": f"{base}:g:{gid}",
            "m": f"{base}:g:{gid}:m",
            "fired": f"{base}:fired",
        }

    async def open(
        self, *, tenant: str, offer: Offer, group_id: str, customer: str, member: dict[str, Any], at: datetime
    ) -> tuple[JoinResult, datetime]:
        terms = offer.group_buy
        assert terms is not None
        deadline = at.timestamp() + terms.deadline_seconds
        k = self._keys(tenant, group_id)
        args = [
            customer,
            terms.size,
            deadline,
            terms.virtual_min or -1,
            _limit(terms.total_groups),
            _limit(terms.per_customer),
            _member(member),
            at.timestamp(),
        ]
        reply = text((await run_batch(self.client, [(self._open, [k["opened"], k["cust"], k["g"], k["m"]], args)]))[0])
        when = datetime.fromtimestamp(deadline, UTC)
        if reply == "open":
            return JoinResult("open", "open"), when
        kind, _, state = reply.partition("|")
        if kind == "member":
            return JoinResult("member", state), when
        return JoinResult("refused", None, reply), when

    async def join(
        self, *, tenant: str, offer: Offer, group_id: str, customer: str, member: dict[str, Any], at: datetime
    ) -> JoinResult:
        terms = offer.group_buy
        assert terms is not None
        k = self._keys(tenant, group_id)
        args = [customer, _limit(terms.per_customer), at.timestamp(), _member(member)]
        reply = text((await run_batch(self.client, [(self._join, [k["cust"], k["g"], k["m"]], args)]))[0])
        kind, _, state = reply.partition("|")
        if kind in ("joined", "member"):
            return JoinResult(kind, state)
        if kind == "closed":
            return JoinResult("refused", state if state != "deadline_passed" else "open", state)
        return JoinResult("refused", None, kind)

    async def close_at_deadline(self, *, tenant: str, group_id: str, now: datetime) -> str:
        """``failed`` / ``virtual`` when this call closed the group; ``noop`` when already closed."""
        k = self._keys(tenant, group_id)
        keys = [k["cust"], k["g"], k["m"], k["fired"]]
        return text((await run_batch(self.client, [(self._deadline, keys, [now.timestamp()])]))[0])

    async def state(self, *, tenant: str, group_id: str) -> GroupState | None:
        k = self._keys(tenant, group_id)
        g, m = await run_batch(self.client, [("HGETALL", k["g"]), ("HGETALL", k["m"])])
        group, members = _pairs(g), _pairs(m)
        if not group:
            return None
        rows = [{"customer": c, **json.loads(v)} for c, v in sorted(members.items(), key=lambda cv: cv[1])]
        return GroupState(
            group_id=group_id,
            offer_id=offer_of(group_id),
            state=group["state"],
            size=int(group["size"]),
            members=sorted(rows, key=lambda r: r.get("at", 0)),
            deadline=datetime.fromtimestamp(float(group["deadline"]), UTC),
            leader=group["leader"],
        )

    async def fired(self, *, tenant: str, offer_id: str) -> int:
        """How many deadlines changed a group of this offer (each group at most once)."""
        reply = await run_batch(self.client, [("GET", f"{self._base(tenant, offer_id)}:fired")])
        return int(reply[0] or 0)


def _member(member: dict[str, Any]) -> str:
    return json.dumps({"payment": "paid", **member}, separators=(",", ":"), ensure_ascii=False)


def _limit(value: int | None) -> int:
    return -1 if value is None else value


def _pairs(reply: Any) -> dict[str, str]:
    if isinstance(reply, dict):
        return {text(k): text(v) for k, v in reply.items()}
    return {text(k): text(v) for k, v in zip(reply[::2], reply[1::2], strict=True)}
