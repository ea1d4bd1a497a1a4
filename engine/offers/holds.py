"""Held referral rewards: released by the invitee's first paid order, else voided.

With a return window (``hold: {until: order_paid, return_window: 7d}``) the paid order
only starts the window: the hold is released by ``expire`` (the worker) once the window
has passed without a refund, and voided by the subject's refund within it, so a hired
buyer who pays and takes the money back (刷单) releases nothing.

The authority on a hold is its hash in the offer's slot; the TRANSITION script moves
it out of ``held`` exactly once and, when voiding, returns the unit to the offer's
total and to the beneficiary's per-customer count in the same atomic step. The
customer-slot sets (``of:holds``) are only indexes telling ``on_outcome`` where to
look; a racing second outcome finds the hold already decided and reports nothing.

A hold for someone else (a referrer's gift) is **voided, not released**, when the outcome's
customer is among its beneficiary's strong links (``{C}:lk:peers``, read with the holds index in
the same round trip; engine/features/links.py): an invitee on the referrer's phone, wallet or
address releasing the referrer's gift is the referrer paying himself (reason ``linked_payer``).
A customer id unsafe in a key is stored as a digest there and is not matched: such a payer
releases as before.

A released hold is remembered in its subject's and beneficiary's ``of:released``
(hold id -> release time) with the order that released it (``of:released:ref``), so
a later refund of that order, or a fraud label, can find the reward it released
(engine.offers.clawbacks).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.commands.core import AsyncScript

from engine.datastore.batches import Command, ScriptCall, run_batch, text
from engine.datastore.keys import CustomerKeys, OfferKeys, held_offers_key
from engine.events import OUTCOME_TYPES, Event, is_payment
from engine.features.links import peers_key
from engine.offers.periods import order_reference
from engine.offers.results import HoldChange

#: The reason on a hold voided because its releasing payer is linked to its beneficiary.
LINKED_PAYER = "linked_payer"


def outcome_action(event: Event) -> tuple[str, str] | None:
    """(action, cause) an outcome event means for holds, or None when it means nothing."""
    if event.type not in OUTCOME_TYPES:
        return None
    if event.type == "label":
        return ("void", "fraud") if event.label == "fraud" else None
    if event.type == "chargeback":
        return ("void", "chargeback")
    if event.type == "order_paid" and not is_payment(event):
        return None  # a 0元 checkout paid nothing: it releases no reward and starts no return window
    return ("release", event.type)  # released only where the hold's release_on matches


async def on_outcome(
    client: Any, transition: AsyncScript, tenant: str, event: Event, keep_seconds: int
) -> list[HoldChange]:
    """Apply one outcome to the holds its customer is the invitee (or, for fraud, beneficiary) of."""
    action = outcome_action(event)
    if action is None:
        return []
    index = CustomerKeys(tenant, event.customer).holds
    verb, cause = action
    reads: list[ScriptCall | Command] = [("SMEMBERS", index)]
    if verb == "release":  # the payer's strong links, in the same round trip (engine/features/links.py)
        reads.append(("ZRANGE", peers_key(tenant, event.customer), 0, -1))
    replies = await run_batch(client, reads)
    hold_ids = sorted(text(m) for m in replies[0])
    if not hold_ids:
        return []
    ref = order_reference(event) or event.event_id
    args = [verb, event.customer, cause, repr(event.epoch), event.event_id, keep_seconds, ref]
    if verb == "release":
        args.append("|" + "".join(f"{text(p)}|" for p in replies[1]))
    return await _transition(client, transition, tenant, hold_ids, args, cause, event.timestamp, index, ref)


async def decide_for(
    client: Any,
    transition: AsyncScript,
    tenant: str,
    *,
    customer: str,
    verb: str,
    cause: str,
    at: datetime,
    cause_event: str,
    keep_seconds: int,
) -> list[HoldChange]:
    """Void (``verb="void"``) or release (``"approve"``) every pending hold ``customer`` is party to.

    Late evidence and review decisions: a void covers the holds the customer is the
    subject or the beneficiary of; an approval releases the ones it is the beneficiary of.
    """
    index = CustomerKeys(tenant, customer).holds
    members = (await run_batch(client, [("SMEMBERS", index)]))[0]
    hold_ids = sorted(text(m) for m in members)
    if not hold_ids:
        return []
    args = [verb, customer, cause, repr(at.timestamp()), cause_event, keep_seconds]
    return await _transition(client, transition, tenant, hold_ids, args, cause, at, index, cause_event)


async def held_offers(client: Any, tenants: list[str]) -> dict[str, list[str]]:
    """The offers that ever held a reward, per tenant, in one round trip for them all.

    A worker sweeps every known tenant every few seconds; most have no hold at all, and a
    round trip each made an idle worker's cost grow with the tenants (1,000: ~70 ms/s).
    """
    found = await run_batch(client, [("SMEMBERS", held_offers_key(t)) for t in tenants]) if tenants else []
    return {t: sorted(text(o) for o in members) for t, members in zip(tenants, found, strict=True) if members}


async def expire(
    client: Any, transition: AsyncScript, tenant: str, now: datetime, batch: int, keep_seconds: int,
    offers: list[str] | None = None,
) -> int:  # fmt: skip
    """Expire every pending hold of the tenant whose ``void_at`` is not after ``now`` (``offers``: its held
    offers, when already read)."""
    if offers is None:
        offers = (await held_offers(client, [tenant])).get(tenant, [])
    epoch = now.timestamp()
    expired = 0
    while offers:
        lookups: list[ScriptCall | Command] = [
            ("ZRANGEBYSCORE", OfferKeys(tenant, o).due, "-inf", repr(epoch), "LIMIT", 0, batch) for o in offers
        ]
        due = await run_batch(client, lookups)
        hold_ids = [f"{o}/{text(e)}" for o, events in zip(offers, due, strict=True) for e in events]
        if not hold_ids:
            break
        args = ["expire", "", "expired", repr(epoch), "", keep_seconds]
        changes = await _transition(client, transition, tenant, hold_ids, args, "expired", now, None, "")
        expired += len(changes)
        offers = [o for o, events in zip(offers, due, strict=True) if len(events) == batch]
    return expired


async def _transition(
    client: Any,
    transition: AsyncScript,
    tenant: str,
    hold_ids: list[str],
    args: list[Any],
    reason: str,
    at: datetime,
    index: str | None,
    ref: str,
) -> list[HoldChange]:
    """Run TRANSITION on each hold (one call per offer slot), then tidy the indexes."""
    calls: list[ScriptCall | Command] = []
    for hold in hold_ids:
        offer_id, event_id = hold.split("/", 1)
        keys = OfferKeys(tenant, offer_id)
        calls.append((transition, [keys.budget, keys.customers, keys.hold(event_id), keys.due], args))
    replies = await run_batch(client, calls)
    changes: list[HoldChange] = []
    tidy: list[ScriptCall | Command] = []
    for hold, reply in zip(hold_ids, replies, strict=True):
        kind = text(reply[0])
        if kind == "gone" and index is not None:
            tidy.append(("SREM", index, hold))
        if kind != "changed":
            continue
        state, subject, beneficiary = (text(v) for v in reply[1:4])
        earned = state == "released" and reason == "expired"  # a return window passed without a refund
        linked = len(reply) > 6 and text(reply[6]) == LINKED_PAYER
        why = "return_window" if earned else "expired" if state == "expired" else LINKED_PAYER if linked else reason
        released_ref = text(reply[5]) if earned and len(reply) > 5 else ref  # earned: by its paid order
        offer_id = hold.split("/", 1)[0]
        changes.append(HoldChange(hold, offer_id, state, why, subject, beneficiary, at.astimezone(UTC)))  # type: ignore[arg-type]
        for customer in {subject, beneficiary}:
            party = CustomerKeys(tenant, customer)
            tidy.append(("SREM", party.holds, hold))
            if state == "released":
                tidy.append(("ZADD", party.released, repr(at.timestamp()), hold))
                tidy.append(("HSET", party.released_refs, hold, f"{released_ref}|{beneficiary}|{subject}"))
                tidy += [("EXPIRE", party.released, args[5]), ("EXPIRE", party.released_refs, args[5])]
    await run_batch(client, tidy)
    return changes
