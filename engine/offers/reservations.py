"""Reversible budgets: reserve at checkout, commit on the paid order, release otherwise.

The authority on a reservation is its hash in the offer's slot (``hold:<event>``,
``kind=reservation``); the RESERVATION script moves it one step at a time and gives
the unit back to the total, the customer's cap and the period counters in the same
atomic step. ``of:resv`` (per customer) only tells an outcome where to look;
``rdue`` (per offer) tells the sweep which reservations may lapse -- RESERVE also
lapses due ones lazily before every grant, so an abandoned checkout never blocks
the budget even without a worker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.commands.core import AsyncScript

from engine.datastore.batches import Command, ScriptCall, run_batch, text
from engine.datastore.keys import CustomerKeys, OfferKeys, reserved_offers_key
from engine.events import OUTCOME_TYPES, Event
from engine.offers.periods import order_reference
from engine.offers.results import ReservationChange

_FINAL = frozenset({"cancelled", "refunded", "lapsed"})


async def on_outcome(
    client: Any, script: AsyncScript, tenant: str, event: Event, keep_seconds: int
) -> list[ReservationChange]:
    """Commit or release the customer's reservations this outcome decides."""
    if event.type not in OUTCOME_TYPES:
        return []
    index = CustomerKeys(tenant, event.customer).reservations
    members = (await run_batch(client, [("SMEMBERS", index)]))[0]
    ids = sorted(text(m) for m in members)
    if not ids:
        return []
    args = ["outcome", event.customer, event.type, repr(event.epoch), event.event_id, keep_seconds]
    args.append(order_reference(event))
    return await _move(client, script, tenant, ids, args, event.type, event.timestamp, index)


async def cancel_for(
    client: Any,
    script: AsyncScript,
    tenant: str,
    *,
    customer: str,
    cause: str,
    at: datetime,
    cause_event: str,
    keep_seconds: int,
) -> list[ReservationChange]:
    """Cancel the customer's reservations not yet committed (late evidence); committed ones stay."""
    index = CustomerKeys(tenant, customer).reservations
    ids = sorted(text(m) for m in (await run_batch(client, [("SMEMBERS", index)]))[0])
    if not ids:
        return []
    args = ["cancel", customer, cause, repr(at.timestamp()), cause_event, keep_seconds, ""]
    return await _move(client, script, tenant, ids, args, cause, at, index)


async def expire(client: Any, script: AsyncScript, tenant: str, now: datetime, batch: int, keep_seconds: int) -> int:
    """Release every reservation not committed by its ``expires_at``; return how many."""
    offers = sorted(text(o) for o in (await run_batch(client, [("SMEMBERS", reserved_offers_key(tenant))]))[0])
    epoch = now.timestamp()
    lapsed = 0
    while offers:
        lookups: list[ScriptCall | Command] = [
            ("ZRANGEBYSCORE", OfferKeys(tenant, o).reservations_due, "-inf", repr(epoch), "LIMIT", 0, batch)
            for o in offers
        ]
        due = await run_batch(client, lookups)
        ids = [f"{o}/{text(e)}" for o, events in zip(offers, due, strict=True) for e in events]
        if not ids:
            break
        args = ["expire", "", "expired", repr(epoch), "", keep_seconds, ""]
        lapsed += len(await _move(client, script, tenant, ids, args, "expired", now, None))
        offers = [o for o, events in zip(offers, due, strict=True) if len(events) == batch]
    return lapsed


async def _move(
    client: Any,
    script: AsyncScript,
    tenant: str,
    ids: list[str],
    args: list[Any],
    reason: str,
    at: datetime,
    index: str | None,
) -> list[ReservationChange]:
    calls: list[ScriptCall | Command] = []
    for reservation in ids:
        offer_id, event_id = reservation.split("/", 1)
        keys = OfferKeys(tenant, offer_id)
        calls.append((script, [keys.budget, keys.customers, keys.hold(event_id), keys.reservations_due], args))
    replies = await run_batch(client, calls)
    changes: list[ReservationChange] = []
    tidy: list[ScriptCall | Command] = []
    for reservation, reply in zip(ids, replies, strict=True):
        kind = text(reply[0])
        if kind == "gone" and index is not None:
            tidy.append(("SREM", index, reservation))
        if kind != "changed":
            continue
        state, customer = text(reply[1]), text(reply[2])
        if state in _FINAL:
            tidy.append(("SREM", CustomerKeys(tenant, customer).reservations, reservation))
        offer_id = reservation.split("/", 1)[0]
        why = "expired" if state == "lapsed" else reason
        changes.append(ReservationChange(reservation, offer_id, state, why, customer, at.astimezone(UTC)))  # type: ignore[arg-type]
    await run_batch(client, tidy)
    return changes
