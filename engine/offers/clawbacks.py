"""Rewards marked for clawback when evidence against their beneficiary arrives late.

A reward already out -- a granted gift, a held reward released by a paid order --
cannot be taken back by yutang: the storefront reverses points, coupons or credit.
What yutang owns is the record: a clawback is written once per reward into its
beneficiary's ``of:clawbacks`` (customer slot; HSETNX, so a retried cause or a second
cause for the same reward adds nothing) and announced by the caller (webhook, history).

Which rewards a cause reaches:

- against a customer (fraud label, chargeback, denied case, link at checkout): every
  reward of that customer granted or released within the pack's window;
- a refund of the order that released a held reward (刷单: pay, release, refund): the
  reward that order released, whoever its beneficiary (the referrer).

A refund names its order with ``attributes.order_id``; the reward matches when that is
the ``order_id`` (or, without one, the event id) of the paid order that released it.
A refund without an ``order_id`` matches every reward its sender's paid orders released
within the window: the storefront that sends no order ids cannot say which it was.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from engine.datastore.batches import Command, ScriptCall, run_batch, text
from engine.datastore.keys import CustomerKeys, OfferKeys

#: KEYS: clawbacks hash. ARGV: keep seconds, then pairs (field, JSON). Returns the fields newly set.
MARK = """
local out = {}
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then out[#out + 1] = ARGV[i] end
end
if #out > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return out
"""


@dataclass(frozen=True, slots=True)
class Clawback:
    """One reward its beneficiary should give back, and why."""

    customer: str  # the beneficiary
    offer_id: str
    event_id: str  # the event that granted it
    hold_id: str | None
    value: float
    cause: str  # fraud_label | chargeback | refund_released | case_denied | linked_at_checkout
    cause_event: str
    at: datetime

    @property
    def key(self) -> str:
        return f"{self.offer_id}/{self.event_id}"

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["at"] = self.at.isoformat()
        body["status"] = "clawback"
        return body


HISTORY_KEEP = 200


def history_calls(tenant: str, customer: str, entries: Sequence[Mapping[str, Any]], keep_seconds: int) -> list[Command]:
    """The writes adding late-evidence steps to ``customer``'s history (``of:evidence``, newest first)."""
    if not entries:
        return []
    key = evidence_key(tenant, customer)
    rows = [json.dumps(e, ensure_ascii=False, separators=(",", ":"), default=str) for e in entries]
    return [("LPUSH", key, *rows), ("LTRIM", key, 0, HISTORY_KEEP - 1), ("EXPIRE", key, keep_seconds)]


def evidence_key(tenant: str, customer: str) -> str:
    return f"{CustomerKeys(tenant, customer).base}:of:evidence"


class Clawbacks:
    """Find and mark the rewards a late cause reaches."""

    def __init__(self, client: Any, *, keep_seconds: int = 400 * 86400) -> None:
        self.client = client
        self.keep_seconds = keep_seconds
        self._mark = client.register_script(MARK)

    async def against(
        self,
        *,
        tenant: str,
        customer: str,
        since: datetime,
        cause: str,
        cause_event: str,
        at: datetime,
        values: Mapping[str, float],
    ) -> list[Clawback]:
        """Mark every reward of ``customer`` granted or released since ``since``; those newly marked."""
        keys = CustomerKeys(tenant, customer)
        floor = repr(since.timestamp())
        grants, released = await run_batch(
            self.client,
            [("ZRANGEBYSCORE", keys.grants, floor, "+inf"), ("ZRANGEBYSCORE", keys.released, floor, "+inf")],
        )
        records = [json.loads(text(m)) for m in grants]
        released_ids = {text(h) for h in released}
        found: list[Clawback] = []
        held: list[dict[str, Any]] = []
        for record in records:
            if record.get("h"):
                held.append(record)
            elif record.get("s") == "granted":
                found.append(self._one(customer, record["o"], record["e"], None, values, cause, cause_event, at))
        states = await run_batch(
            self.client,
            [("HMGET", OfferKeys(tenant, r["o"]).hold(r["e"]), "state", "beneficiary") for r in held],
        )
        for record, (state, beneficiary) in zip(held, states, strict=True):
            if text(state or b"") == "released" and text(beneficiary or b"") == customer:
                found.append(self._one(customer, record["o"], record["e"], record["h"], values, cause, cause_event, at))
        others = sorted(released_ids - {r["h"] for r in held})  # released where the customer was the invitee
        refs = await run_batch(self.client, [("HGET", keys.released_refs, hold) for hold in others])
        for hold, ref in zip(others, refs, strict=True):
            offer_id, _, event_id = hold.partition("/")
            if ref is not None and text(ref).split("|")[1] == customer:
                found.append(self._one(customer, offer_id, event_id, hold, values, cause, cause_event, at))
        return await self.mark(tenant, found)

    async def released_by(
        self,
        *,
        tenant: str,
        payer: str,
        order: str,
        since: datetime,
        cause: str,
        cause_event: str,
        at: datetime,
        values: Mapping[str, float],
    ) -> list[Clawback]:
        """Mark the rewards ``payer``'s paid ``order`` released for others ('' = any order within the window)."""
        keys = CustomerKeys(tenant, payer)
        released, refs = await run_batch(
            self.client,
            [("ZRANGEBYSCORE", keys.released, repr(since.timestamp()), "+inf"), ("HGETALL", keys.released_refs)],
        )
        by_hold = {text(k): text(v) for k, v in (refs or {}).items()}
        found: list[Clawback] = []
        for raw in released:
            hold = text(raw)
            ref, _, rest = by_hold.get(hold, "||").partition("|")
            beneficiary, _, subject = rest.partition("|")
            if subject != payer or beneficiary in ("", payer) or (order and ref != order):
                continue
            offer_id, _, event_id = hold.partition("/")
            found.append(self._one(beneficiary, offer_id, event_id, hold, values, cause, cause_event, at))
        return await self.mark(tenant, found)

    async def mark(self, tenant: str, found: Sequence[Clawback]) -> list[Clawback]:
        """Write each clawback once; the ones this call wrote."""
        by_customer: dict[str, list[Clawback]] = {}
        for clawback in found:
            by_customer.setdefault(clawback.customer, []).append(clawback)
        calls: list[ScriptCall | Command] = []
        for customer, items in by_customer.items():
            args: list[Any] = [self.keep_seconds]
            for item in items:
                args += [item.key, json.dumps(item.as_dict(), ensure_ascii=False, separators=(",", ":"))]
            calls.append((self._mark, [CustomerKeys(tenant, customer).clawbacks], args))
        replies = await run_batch(self.client, calls)
        fresh: list[Clawback] = []
        for items, reply in zip(by_customer.values(), replies, strict=True):
            written = {text(f) for f in reply}
            fresh += [i for i in items if i.key in written]
        return fresh

    async def history(self, *, tenant: str, customer: str, limit: int = 50) -> list[dict[str, Any]]:
        """Late-evidence steps that touched the customer, newest first."""
        rows = (await run_batch(self.client, [("LRANGE", evidence_key(tenant, customer), 0, max(limit, 1) - 1)]))[0]
        return [json.loads(text(r)) for r in rows]

    async def of(self, *, tenant: str, customer: str) -> list[dict[str, Any]]:
        """The customer's clawbacks, newest first."""
        raw = (await run_batch(self.client, [("HGETALL", CustomerKeys(tenant, customer).clawbacks)]))[0] or {}
        rows = [json.loads(text(v)) for v in raw.values()]
        return sorted(rows, key=lambda r: (r["at"], r["offer_id"], r["event_id"]), reverse=True)

    @staticmethod
    def _one(
        customer: str,
        offer_id: str,
        event_id: str,
        hold_id: str | None,
        values: Mapping[str, float],
        cause: str,
        cause_event: str,
        at: datetime,
    ) -> Clawback:
        return Clawback(customer, offer_id, event_id, hold_id, values.get(offer_id, 0.0), cause, cause_event,
                        at.astimezone(UTC))  # fmt: skip
