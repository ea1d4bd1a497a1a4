"""The payers' regions of each tenant in Redis, and each worker's snapshot of them.

Layout, one slot per tenant (``yt:{<tenant>:area:payers}``, correct on a cluster):

- ``...:c`` hash: customer -> ``region|by_phone|net cents|gross cents``, the state
  engine/area/payers.py describes, of each customer who **counts** (a region, and at least half
  of what it paid kept: the store's real payers, each of whom cost half an order; a state
  written before session 8 has no gross and is read as having kept all it paid);
- ``...:o:<customer>`` string: the same state of a customer who does not count (it gave a region
  and never paid, paid nothing kept, or a payment before any region), with a **bounded life**:
  ``STATE_TTL_S`` (400 days, past the feature store's 365-day history) from its last write.
  A state moves between the two as the customer starts or stops counting. So a flood of new
  accounts giving regions costs keys that expire, not a hash that grows for ever (red team,
  session 9); what is forgotten is a region given more than 400 days before a first payment
  (that payment then counts for the region its own event carries, or none);
- ``...:n`` hash: region -> counted payers, and ``*`` -> all counted payers (at most 36 fields).

One script (``AREA_SCRIPT``) applies an event to both atomically; its rules are
:class:`engine.area.payers.PayerAreas`'s, line for line (tests/engine/test_area_store.py
replays the same events through both). Scoring never reads this per event: each worker keeps
a snapshot of ``:n`` per tenant (:class:`AreaSnapshots`), refreshed in the background once it
is older than ``refresh_s``, so the hot path costs no round trip and a new payer reaches the
rules within ``refresh_s`` (30 s). A scored event's region is written in the background too,
once per worker per customer and kind of region (:meth:`AreaSnapshots.place`); a write lost to
an outage is made again by the customer's next event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from engine.area.payers import REFUND_TYPES, TOTAL, cents, event_region, paid_cents
from engine.datastore.keys import PREFIX, safe_id
from engine.datastore.scripts import Call, Script, run_batch, run_one
from engine.errors import StoreUnavailable
from engine.events import Event

log = logging.getLogger(__name__)

AREA_SCRIPT = Script.inline(
    "area.lua",
    """
local c, n, o = KEYS[1], KEYS[2], KEYS[3]
local customer, region, by_phone, kind, amount = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local raw = redis.call('HGET', c, customer)
local counted_field = raw
if not raw then raw = redis.call('GET', o) end
if not raw and region == '' and kind ~= 'paid' then return 0 end
local r, p, net, gross = '', '0', 0, 0
if raw then
  local a, b, d, g = string.match(raw, '^(.-)|(%d)|(%d+)|?(%d*)$')
  r, p, net = a, b, tonumber(d)
  gross = tonumber(g) or net  -- a state written before gross was kept: what it has kept
end
local was, was_region = (r ~= '' and net > 0 and 2 * net >= gross), r
if region ~= '' and (r == '' or (by_phone == '1' and p == '0')) then r, p = region, by_phone end
if kind == 'paid' then
  net, gross = net + amount, gross + amount
elseif kind == 'refund' then
  if amount > 0 then net = math.max(0, net - amount) else net = 0 end
end
local now = (r ~= '' and net > 0 and 2 * net >= gross)
local state = r .. '|' .. p .. '|' .. net .. '|' .. gross
if now then  -- a counted payer: in the hash, for as long as it counts
  redis.call('HSET', c, customer, state)
  if not counted_field then redis.call('DEL', o) end
else  -- anyone else: a key of its own that expires (a flood of accounts does not grow the hash)
  redis.call('SET', o, state, 'EX', ARGV[6])
  if counted_field then redis.call('HDEL', c, customer) end
end
if was ~= now or (now and was_region ~= r) then
  if was then redis.call('HINCRBY', n, was_region, -1); redis.call('HINCRBY', n, '*', -1) end
  if now then redis.call('HINCRBY', n, r, 1); redis.call('HINCRBY', n, '*', 1) end
end
return 1
""",
)


#: How long the state of a customer who does not count is kept after its last write (seconds).
STATE_TTL_S = 400 * 86_400


def area_keys(tenant: str) -> tuple[str, str]:
    """The counted payers' hash and the counts hash of one tenant, in one slot."""
    base = f"{PREFIX}:{{{safe_id(tenant)}:area:payers}}"
    return f"{base}:c", f"{base}:n"


def uncounted_key(tenant: str, customer: str) -> str:
    """The expiring state of one customer of the tenant who does not count, in the tenant's slot."""
    return f"{PREFIX}:{{{safe_id(tenant)}:area:payers}}:o:{safe_id(customer)}"


def area_call(tenant: str, event: Event) -> Call | None:
    """The script call recording ``event`` (its region, a paid order or a refund), or None when it has neither."""
    region, by_phone = event_region(event)
    kind = "paid" if event.type == "order_paid" else "refund" if event.type in REFUND_TYPES else ""
    if region is None and not kind:
        return None
    # a paid order: its cents (1 when none given, 0 when free); a refund: its cents, 0 (everything) when none
    amount = paid_cents(event.amount) if kind == "paid" else (cents(event.amount) or 0)
    args = (event.customer, region or "", "1" if by_phone else "0", kind, amount, STATE_TTL_S)
    return Call(AREA_SCRIPT, (*area_keys(tenant), uncounted_key(tenant, event.customer)), args)


async def record(client: Any, tenant: str, event: Event) -> None:
    """Apply one event to the tenant's payers (awaited: outcomes, tests)."""
    if (call := area_call(tenant, event)) is not None:
        await run_one(client, call)


async def read_counts(client: Any, tenant: str) -> dict[str, int]:
    """The tenant's counted payers per region (and ``*``), regions without a payer left out."""
    (raw,) = await run_batch(client, [("HGETALL", area_keys(tenant)[1])])
    counts = {_text(k): int(v) for k, v in dict(raw or {}).items()}
    return {k: v for k, v in counts.items() if v > 0 or k == TOTAL}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class AreaSnapshots:
    """One worker's view of every tenant's payers: read from memory, refreshed in the background."""

    def __init__(self, client: Any, *, refresh_s: float = 30.0, placed: int = 65536) -> None:
        self.client = client
        self.refresh_s = refresh_s
        self._counts: dict[str, dict[str, int]] = {}
        self._fetched: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._refreshing: set[str] = set()
        self._placed: OrderedDict[tuple[str, str, bool], None] = OrderedDict()
        self._placed_max = placed

    def current(self, tenant: str) -> dict[str, int] | None:
        """The tenant's counts as last fetched (None before the first fetch); starts a refresh when stale."""
        if time.monotonic() - self._fetched.get(tenant, -1e18) >= self.refresh_s and tenant not in self._refreshing:
            self._refreshing.add(tenant)
            self._spawn(self._refresh(tenant))
        return self._counts.get(tenant)

    async def refresh(self, tenant: str) -> dict[str, int] | None:
        """Fetch the tenant's counts now (tests, start-up)."""
        self._refreshing.add(tenant)
        await self._refresh(tenant)
        return self._counts.get(tenant)

    def place(self, tenant: str, event: Event) -> None:
        """Write a scored event's region in the background, once per customer and kind of region."""
        if event.type == "order_paid" or event.type in REFUND_TYPES:
            return
        region, by_phone = event_region(event)
        if region is None:
            return
        key = (tenant, event.customer, by_phone)
        if key in self._placed:
            self._placed.move_to_end(key)
            return
        self._placed[key] = None
        if len(self._placed) > self._placed_max:
            self._placed.popitem(last=False)
        self._spawn(self._write(key, tenant, event))

    async def drain(self) -> None:
        """Wait for the background writes and refreshes (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _refresh(self, tenant: str) -> None:
        try:
            self._counts[tenant] = await read_counts(self.client, tenant)
        except StoreUnavailable as err:  # keep the last snapshot; try again ``refresh_s`` later
            log.warning("area: could not refresh tenant %s's payers: %s", tenant, err)
        finally:
            self._fetched[tenant] = time.monotonic()
            self._refreshing.discard(tenant)

    async def _write(self, key: tuple[str, str, bool], tenant: str, event: Event) -> None:
        """Write one region; a write Redis refused is forgotten, so the customer's next event writes it again."""
        try:
            await record(self.client, tenant, event)
        except StoreUnavailable:
            self._placed.pop(key, None)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
