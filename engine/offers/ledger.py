"""The offer ledger: grants offers without ever overspending a budget.

Design (docs/offers.md has the full argument): every counter an offer's grant checks
-- total (限量), per customer, per day -- lives in the offer's own slot, so one Lua
script checks all three and reserves the unit atomically, on one Redis or a cluster;
no two-phase reservation, nothing to compensate. An event tries one offer per
exclusivity group per round trip: the first choices of all groups go out together
in one pipeline, fall-backs of refused groups in the next. A second step records the
grants in the beneficiaries' slots (history, hold indexes); it is idempotent and
repeated by a retry, so a crash between the two steps is repaired by the client's
retry, and a pending hold is never lost for expiry (its due index is in the offer's
slot, written with the reservation).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from engine.datastore.batches import Command, ScriptCall, run_batch, text
from engine.datastore.keys import CustomerKeys, OfferKeys, held_offers_key, reserved_offers_key
from engine.errors import StoreUnavailable
from engine.events import Event
from engine.model import Offer
from engine.offers import holds, reservations
from engine.offers.experiments import ExperimentBook
from engine.offers.periods import Periods, order_reference
from engine.offers.results import (
    BudgetState,
    CustomerGrant,
    Grant,
    GrantStatus,
    HoldChange,
    ReservationChange,
)
from engine.offers.scripts import RECORD, RESERVATION, RESERVE, TRANSITION

_DAY_TTL = 8 * 86400  # per-day counters outlive the day for reporting, then go
_PERIOD_TTL = 40 * 86400  # week and month counters likewise
_COUNTERS = (
    "used",
    "granted",
    "held",
    "released",
    "voided",
    "expired",
    "reserved",
    "committed",
    "cancelled",
    "refunded",
    "lapsed",
)


class OfferLedger:
    """Budgets, caps and held rewards of every tenant's offers, in Redis.

    ``client`` is a ``redis.asyncio.Redis`` or ``redis.asyncio.RedisCluster``.
    ``event_ttl``: how long a retried event finds its first outcome (idempotency).
    """

    def __init__(
        self,
        client: Any,
        *,
        event_ttl: int = 86400,
        hold_keep_days: int = 400,
        history_size: int = 200,
    ) -> None:
        self.client = client
        self.event_ttl = event_ttl
        self.hold_keep_seconds = hold_keep_days * 86400
        self.history_size = history_size
        self._reserve = client.register_script(RESERVE)
        self._transition = client.register_script(TRANSITION)
        self._record = client.register_script(RECORD)
        self._reservation = client.register_script(RESERVATION)
        self.experiments = ExperimentBook(client)

    # -- granting ------------------------------------------------------------------

    async def grant(
        self,
        *,
        tenant: str,
        event: Event,
        evaluation_offers: Sequence[Offer],
        zone: ZoneInfo,
        stacked: frozenset[str] = frozenset(),
        deferred: list[ScriptCall | Command] | None = None,
        now: float | None = None,
        first: Sequence[Any] | None = None,
    ) -> list[Grant]:
        """Grant at most one offer per exclusivity group, trying each group in priority order.

        ``first``: the replies of the first round's reservation calls, already sent (with
        the writes after the decision, engine/offers/one_trip.py): the rounds go on from them.

        ``evaluation_offers`` is ``Evaluation.eligible`` (every eligible offer, so a
        spent offer falls back to the next of its group). Returns every offer tried,
        refusals included, groups in order of first appearance.

        The budgets are reserved here, atomically. Recording the grants into the
        beneficiaries' histories is bookkeeping: with ``deferred`` its calls are appended
        there for the caller to send with its own writes (one round trip, not two).

        ``now``: the server's clock (the API's; a replay runs on its log's time and passes
        None). A hold or reservation whose deadline, counted from the event's time, is not
        after ``now`` is refused as ``too_late`` rather than answered ``held`` with a
        ``void_at`` already past: only a trusted, back-dated event gets there.
        """
        groups = rank_groups(evaluation_offers, stacked=stacked, keep_order=True)
        day = Periods.of(event.timestamp.astimezone(zone))
        tried: list[list[Grant]] = [[] for _ in groups]
        cursor = dict.fromkeys(range(len(groups)), 0)
        while cursor:
            planned = {g: self._plan(tenant, event, groups[g][i], day, now) for g, i in cursor.items()}
            calls = [(g, p) for g, p in planned.items() if not isinstance(p, Grant)]
            if first is not None:
                replies, first = _sent(first, len(calls)), None
            else:
                replies = await run_batch(self.client, [p for _, p in calls])
            for (g, _), reply in zip(calls, replies, strict=True):
                planned[g] = _parse_reserve(groups[g][cursor[g]], event, text(reply))
            for g, grant in planned.items():
                assert isinstance(grant, Grant)
                tried[g].append(grant)
                cursor[g] += 1
                if grant.granted or grant.status == "event_taken" or cursor[g] == len(groups[g]):
                    del cursor[g]
        grants = [grant for group in tried for grant in group]
        by_id = {o.id: o for o in evaluation_offers}
        records = self._record_calls(tenant, event, grants, self.experiments.grant_calls(tenant, grants, by_id))
        records += _unmetered_tally(tenant, grants, by_id, day)
        if deferred is None:
            await run_batch(self.client, records)
        else:
            deferred.extend(records)
        return grants

    def _plan(
        self, tenant: str, event: Event, offer: Offer, periods: Periods, now: float | None = None
    ) -> Grant | ScriptCall:
        """The grant itself when no Redis state is involved, else the reservation call."""
        beneficiary = offer.recipient(event.customer, event.referrer)
        if beneficiary is None:
            return Grant(offer.id, "no_beneficiary", None, None)
        deadline = _deadline(offer, event)
        if now is not None and deadline is not None and deadline <= now:
            return Grant(offer.id, "too_late", beneficiary, None)
        budget = offer.budget
        if _unmetered(offer):
            return Grant(offer.id, "granted", beneficiary, None)
        keys = OfferKeys(tenant, offer.id)
        mode, due_at = 0, 0.0
        if offer.hold:
            mode, due_at = 1, event.epoch + offer.hold.seconds
        elif offer.reserve:
            mode, due_at = 2, event.epoch + offer.reserve.ttl_seconds
        reserve = offer.reserve
        args = [
            periods.customer_field(beneficiary, budget.customer_period),
            _limit(budget.total),
            _limit(budget.per_customer),
            _limit(budget.per_day),
            _DAY_TTL,
            self.event_ttl,
            mode,
            repr(due_at),
            event.customer,
            offer.hold.release_on if offer.hold else "",
            event.event_id,
            repr(event.epoch),
            periods.day,
            _limit(budget.per_week),
            _limit(budget.per_month),
            _PERIOD_TTL,
            beneficiary,
            order_reference(event),
            reserve.commit_on if reserve else "",
            ",".join(sorted(reserve.release_on)) if reserve else "",
            self.hold_keep_seconds,
            offer.hold.return_window_seconds if offer.hold else 0,
        ]
        key_list = [
            keys.budget,
            keys.customers,
            keys.day(periods.day),
            keys.event(event.event_id),
            keys.hold(event.event_id),
            keys.due,
            keys.period("w", periods.week),
            keys.period("m", periods.month),
            keys.reservations_due,
        ]
        return (self._reserve, key_list, args)

    def _record_calls(
        self, tenant: str, event: Event, grants: Sequence[Grant], extra: Sequence[ScriptCall]
    ) -> list[ScriptCall | Command]:
        """The writes putting each grant into its beneficiary's history and each hold into the indexes."""
        records: dict[str, tuple[list[Any], set[str]]] = {}
        held_offers: set[str] = set()
        reserved: list[str] = []
        for grant in grants:
            if not grant.granted or grant.beneficiary_id is None:
                continue
            if grant.reservation_id:
                reserved.append(grant.reservation_id)
            entries, hold_ids = records.setdefault(grant.beneficiary_id, ([], set()))
            entries += [repr(event.epoch), _grant_member(grant, event)]
            if grant.hold_id:
                hold_ids.add(grant.hold_id)
                records.setdefault(event.customer, ([], set()))[1].add(grant.hold_id)
                held_offers.add(grant.offer_id)
        calls: list[ScriptCall | Command] = list(extra)
        for customer, (entries, hold_ids) in records.items():
            keys = CustomerKeys(tenant, customer)
            args = [self.history_size, len(entries) // 2, *entries, *sorted(hold_ids)]
            calls.append((self._record, [keys.grants, keys.holds, keys.link_summary], args))
        if held_offers:
            calls.append(("SADD", held_offers_key(tenant), *sorted(held_offers)))
        if reserved:
            calls.append(("SADD", CustomerKeys(tenant, event.customer).reservations, *reserved))
            calls.append(("SADD", reserved_offers_key(tenant), *sorted({split_hold_id(r)[0] for r in reserved})))
        return calls

    # -- held rewards ----------------------------------------------------------------

    async def on_outcome(self, *, tenant: str, event: Event) -> list[HoldChange]:
        """Release or void the holds an outcome decides (order paid, fraud label, chargeback)."""
        return await holds.on_outcome(self.client, self._transition, tenant, event, self.hold_keep_seconds)

    async def decide_holds(
        self, *, tenant: str, customer: str, verb: str, cause: str, at: datetime, cause_event: str
    ) -> list[HoldChange]:
        """Void (``void``) or release (``approve``) the customer's pending holds: late evidence, a review."""
        return await holds.decide_for(
            self.client, self._transition, tenant, customer=customer, verb=verb, cause=cause, at=at,
            cause_event=cause_event, keep_seconds=self.hold_keep_seconds,
        )  # fmt: skip

    async def cancel_reservations(
        self, *, tenant: str, customer: str, cause: str, at: datetime, cause_event: str
    ) -> list[ReservationChange]:
        """Give back every unit still reserved for ``customer``'s checkouts (late evidence against it)."""
        return await reservations.cancel_for(
            self.client, self._reservation, tenant, customer=customer, cause=cause, at=at,
            cause_event=cause_event, keep_seconds=self.hold_keep_seconds,
        )  # fmt: skip

    async def expire_holds(self, *, tenant: str, now: datetime, batch: int = 500) -> int:
        """Expire every hold past ``void_at`` (the invitee never bought); return how many."""
        return await holds.expire(self.client, self._transition, tenant, now, batch, self.hold_keep_seconds)

    async def expire_holds_of(self, tenants: Iterable[str], *, now: datetime, batch: int = 500) -> int:
        """``expire_holds`` for every tenant, with one round trip for all those that never held a reward."""
        found = await holds.held_offers(self.client, sorted(set(tenants)))
        keep, transition = self.hold_keep_seconds, self._transition
        return sum([await holds.expire(self.client, transition, t, now, batch, keep, o) for t, o in found.items()])

    # -- reservations (reversible budgets) --------------------------------------------

    async def on_reservation_outcome(self, *, tenant: str, event: Event) -> list[ReservationChange]:
        """Commit (paid order) or release (cancel, refund) the customer's reservations."""
        return await reservations.on_outcome(self.client, self._reservation, tenant, event, self.hold_keep_seconds)

    async def expire_reservations(self, *, tenant: str, now: datetime, batch: int = 500) -> int:
        """Release every reservation not committed by its ``expires_at``; return how many."""
        return await reservations.expire(self.client, self._reservation, tenant, now, batch, self.hold_keep_seconds)

    # -- reading -------------------------------------------------------------------

    async def budgets(
        self,
        *,
        tenant: str,
        offers: Sequence[Offer],
        zone: ZoneInfo | None = None,
        now: datetime | None = None,
    ) -> dict[str, BudgetState]:
        """Counters of each offer; ``today`` is the current day in ``zone`` (the pack's)."""
        moment = (now or datetime.now(UTC)).astimezone(zone or ZoneInfo("UTC"))
        if any(o.reserve for o in offers):  # lazily: what is read never counts a lapsed checkout
            await self.expire_reservations(tenant=tenant, now=moment)
        periods = Periods.of(moment)
        commands: list[ScriptCall | Command] = []
        for offer in offers:
            keys = OfferKeys(tenant, offer.id)
            commands += [
                ("HMGET", keys.budget, *_COUNTERS),
                ("GET", keys.day(periods.day)),
                ("GET", keys.period("w", periods.week)),
                ("GET", keys.period("m", periods.month)),
            ]
        replies = await run_batch(self.client, commands)
        states: dict[str, BudgetState] = {}
        for index, offer in enumerate(offers):
            values = [int(v or 0) for v in replies[4 * index]]
            counts = dict(zip(_COUNTERS, values, strict=True))
            total = offer.budget.total
            remaining = None if total is None else max(total - counts["used"], 0)
            today = int(replies[4 * index + 1] or 0)
            states[offer.id] = BudgetState(
                offer.id,
                total,
                counts["used"],
                remaining,
                today,
                offer.budget.per_day,
                counts["granted"],
                counts["held"],
                counts["released"],
                counts["voided"],
                counts["expired"],
                reserved=counts["reserved"],
                committed=counts["committed"],
                cancelled=counts["cancelled"],
                refunded=counts["refunded"],
                lapsed=counts["lapsed"],
                week=int(replies[4 * index + 2] or 0),
                month=int(replies[4 * index + 3] or 0),
            )
        return states

    async def customer_usage(
        self, *, tenant: str, offers: Sequence[Offer], customer: str, at: datetime, zone: ZoneInfo
    ) -> dict[str, int]:
        """Units of each offer counted against ``customer``'s cap in the current period."""
        periods = Periods.of(at.astimezone(zone))
        commands: list[ScriptCall | Command] = [
            ("HGET", OfferKeys(tenant, o.id).customers, periods.customer_field(customer, o.budget.customer_period))
            for o in offers
        ]
        replies = await run_batch(self.client, commands)
        return {o.id: int(r or 0) for o, r in zip(offers, replies, strict=True)}

    async def customer_grants(self, *, tenant: str, customer: str, limit: int = 50) -> list[CustomerGrant]:
        """The offers ``customer`` received, newest first, holds with their current state."""
        keys = CustomerKeys(tenant, customer)
        rows = await run_batch(self.client, [("ZREVRANGE", keys.grants, 0, max(limit, 1) - 1, "WITHSCORES")])
        pairs = _pairs(rows[0])
        records = [(json.loads(text(member)), float(score)) for member, score in pairs]
        lookups: list[ScriptCall | Command] = []
        for record, _ in records:
            if record.get("h"):
                offer_id, event_id = split_hold_id(record["h"])
                lookups.append(("HGET", OfferKeys(tenant, offer_id).hold(event_id), "state"))
        states = iter(await run_batch(self.client, lookups))
        grants: list[CustomerGrant] = []
        for record, score in records:
            status = record["s"]
            if record.get("h"):
                status = text(next(states) or b"unknown")  # decided more than hold_keep_days ago
            void_at = _when(record["v"]) if record.get("v") else None
            grants.append(CustomerGrant(record["o"], record["e"], status, _when(score), record.get("h"), void_at))
        return grants


def rank_groups(
    offers: Sequence[Offer], *, stacked: frozenset[str] = frozenset(), keep_order: bool = False
) -> list[list[Offer]]:
    """Offers by exclusivity group (a lone offer, or one of a ``stack_all`` group, is its own).

    Highest priority first, or in the given order with ``keep_order`` (the evaluation
    already ordered each group by its stacking policy).
    """
    groups: dict[str, list[Offer]] = {}
    seen: set[str] = set()
    for offer in offers:
        if offer.id in seen:
            continue
        seen.add(offer.id)
        shared = offer.exclusive_group and offer.exclusive_group not in stacked
        key = f"group:{offer.exclusive_group}" if shared else f"offer:{offer.id}"
        groups.setdefault(key, []).append(offer)
    if keep_order:
        return list(groups.values())
    return [sorted(group, key=lambda o: -o.priority) for group in groups.values()]


def hold_id(offer_id: str, event_id: str) -> str:
    """A hold is named by its offer and the event that granted it (offer ids have no '/')."""
    return f"{offer_id}/{event_id}"


def split_hold_id(value: str) -> tuple[str, str]:
    offer_id, _, event_id = value.partition("/")
    return offer_id, event_id


def _parse_reserve(offer: Offer, event: Event, reply: str) -> Grant:
    statuses, remaining, void_at, fresh = reply.split("|")
    causes = tuple(statuses.split(","))
    status = causes[0]
    beneficiary = offer.recipient(event.customer, event.referrer)
    held, reserved = status == "held", status == "reserved"
    return Grant(
        offer_id=offer.id,
        status=cast(GrantStatus, status),
        beneficiary_id=beneficiary,
        remaining_total=int(remaining) if remaining else None,
        hold_id=hold_id(offer.id, event.event_id) if held else None,
        release_on=offer.hold.release_on if held and offer.hold else None,
        void_at=_when(float(void_at)) if held and void_at else None,
        reservation_id=hold_id(offer.id, event.event_id) if reserved else None,
        expires_at=_when(float(void_at)) if reserved and void_at else None,
        fresh=fresh == "1",
        causes=causes if len(causes) > 1 else (),
    )


def _deadline(offer: Offer, event: Event) -> float | None:
    """When a hold would be voided or a reservation released, from the event's time."""
    if offer.hold:
        return event.epoch + offer.hold.void_after_days * 86400
    if offer.reserve:
        return event.epoch + offer.reserve.ttl_seconds
    return None


def _sent(replies: Sequence[Any], expected: int) -> list[Any]:
    """Replies of a first round sent elsewhere; :class:`StoreUnavailable` for an error among them (as run_batch)."""
    if len(replies) != expected:
        raise ValueError(f"{len(replies)} replies for {expected} reservation calls")
    for reply in replies:
        if isinstance(reply, Exception):
            raise StoreUnavailable(f"redis reserve failed: {reply}") from reply
    return list(replies)


def _unmetered(offer: Offer) -> bool:
    """No budget, hold, reservation or experiment: granted without a reservation script."""
    return offer.budget.unlimited and offer.hold is None and offer.reserve is None and offer.experiment is None


def _unmetered_tally(
    tenant: str, grants: Sequence[Grant], offers: Mapping[str, Offer], periods: Periods
) -> list[ScriptCall | Command]:
    """Count unmetered grants in the offer's counters, so ``/v1/reports/offers`` shows them.

    Nothing limits such an offer, so the count is a report, sent with the deferred writes
    (no extra round trip); the API's event-id claim keeps a retried event from counting twice.
    """
    calls: list[ScriptCall | Command] = []
    for grant in grants:
        offer = offers.get(grant.offer_id)
        if grant.status != "granted" or not grant.fresh or offer is None or not _unmetered(offer):
            continue
        keys = OfferKeys(tenant, offer.id)
        calls += [
            ("HINCRBY", keys.budget, "used", 1),
            ("HINCRBY", keys.budget, "granted", 1),
            ("INCR", keys.day(periods.day)),
            ("EXPIRE", keys.day(periods.day), _DAY_TTL),
        ]
    return calls


def _grant_member(grant: Grant, event: Event) -> str:
    """Deterministic, so a retried event's record is the same zset member (no duplicate)."""
    record: dict[str, Any] = {"o": grant.offer_id, "e": event.event_id, "s": grant.status}
    if grant.hold_id:
        record["h"] = grant.hold_id
        record["v"] = grant.void_at.timestamp() if grant.void_at else None
    return json.dumps(record, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _limit(value: int | None) -> int:
    return -1 if value is None else value


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _pairs(reply: Any) -> list[tuple[Any, Any]]:
    """ZRANGE ... WITHSCORES as (member, score) pairs, whatever the protocol's shape."""
    if reply and not isinstance(reply[0], list | tuple):
        return list(zip(reply[::2], reply[1::2], strict=True))
    return [(item[0], item[1]) for item in reply]
