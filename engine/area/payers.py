"""Where a store's paying customers are from, and the area that makes a region "inside".

``pack.service_area`` is a merchant's claim, and often wrong: it forgot to set it, moved,
opened a second store, or copied the shipped pack's (北京, 天津, 河北) into a studio in
Hangzhou, where every honest parent's number is then "outside the area". The store's own
payers say where it really is: a region is **inside** when the pack declares it, or when at
least ``min_share`` of the store's counted payers are from it once ``min_payers`` are
counted (default 10% of at least 20).

Counted, per customer (one state per payer, exactly what both backends keep):

- the customer's **region**: its phone's province (phonenumbers' geocoder), else its IP's
  (ip2region), from any event of its that carries one; a phone's region replaces an IP's,
  otherwise the first one sticks (a payer cannot be re-homed by later events);
- its **net paid amount** in cents: each ``order_paid`` adds its amount (1 cent when it gives
  none, nothing when it says less than a fen: 0, or 0.004 that rounding made a cent), each
  ``refund`` / ``chargeback`` takes its amount off (everything when it gives none); and its
  **gross**, what its orders added;
- it **counts** for its region while it has a region and has kept at least half of what it
  paid (net > 0 and 2 x net >= gross).

What a farmer controlling every byte can do, and the bound (tests/engine/test_area_payers.py):
paying many cheap orders from one account counts once (distinct payers, not orders); paying
and refunding in full counts nothing, and so do a free order (a 0元 checkout, an order its coupon
paid in full) and a refund of all but a fen (red team, session 8: each made a payer for nothing),
so each counted account costs the farm at least half an order it keeps; many accounts that
each pay once and keep the money with the store do count, but only as a share of all the
store's payers: to make his province "home" he must bring 10% of the store's paying customers
from it, and leave their money there.
A declared region stays inside whatever payers say; ``service_area_learned: false`` turns
learning off. Accounts are trusted no more than identities are: an area only widens (it never
makes a declared region "outside"), so the worst a farmer buys is his own numbers looking local.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from engine import geo
from engine.events import Event, paid_amount

#: The counts' key for all counted payers (never a region's name).
TOTAL = "*"
REFUND_TYPES = frozenset({"refund", "chargeback"})


@dataclass(frozen=True, slots=True)
class AreaPolicy:
    """How a pack's area is made: the declared provinces, and whether (and how) payers widen it."""

    declared: frozenset[str] = frozenset()
    learned: bool = True
    min_share: float = 0.10
    min_payers: int = 20

    def area(self, counts: Mapping[str, int] | None) -> frozenset[str] | None:
        """The inside regions given the payers' counts; None when nothing is known (no region is "outside")."""
        inside = self.declared
        if self.learned and counts:
            total = counts.get(TOTAL, 0)
            if total >= self.min_payers:
                bar = self.min_share * total
                learned = {region for region, n in counts.items() if region != TOTAL and n > 0 and n >= bar}
                inside = inside | learned
        return inside or None


def cents(amount: float | None) -> int | None:
    """An amount in whole cents (None when absent or not positive)."""
    if amount is None or amount != amount or amount <= 0:
        return None
    return max(1, round(amount * 100))


def paid_cents(amount: float | None) -> int:
    """What a paid order adds: its amount in cents, 1 when it gives none, 0 when it says it cost less than a fen."""
    if amount is None:
        return 1
    return (cents(amount) or 0) if paid_amount(amount) else 0  # 0.004 is no payment (engine.events.is_payment)


def event_region(event: Event) -> tuple[str | None, bool]:
    """The event's region and whether it is a phone's: its phone's province, else its IP's."""
    if event.phone and (region := geo.phone_region(event.phone)) is not None:
        return region, True
    if event.ip and (region := geo.ip_region(event.ip)) is not None:
        return region, False
    return None, False


@dataclass(slots=True)
class _Payer:
    region: str | None = None
    by_phone: bool = False
    net: int = 0
    gross: int = 0

    @property
    def counts(self) -> bool:
        return self.region is not None and self.net > 0 and 2 * self.net >= self.gross


class PayerAreas:
    """The counts of one tenant's payers per region, kept in memory (replay's, and the oracle of the Redis one)."""

    def __init__(self) -> None:
        self._payers: dict[str, _Payer] = {}
        self.counts: Counter[str] = Counter()

    def observe(self, event: Event) -> None:
        """Learn from one event, in log order: its region, and a paid order or a refund."""
        kind = event.type
        region, by_phone = event_region(event)
        payer = self._payers.get(event.customer)
        if payer is None:
            if region is None and kind != "order_paid":
                return  # nothing to remember about a customer who neither paid nor gave a region
            payer = self._payers[event.customer] = _Payer()
        before = payer.counts, payer.region
        if region is not None and (payer.region is None or (by_phone and not payer.by_phone)):
            payer.region, payer.by_phone = region, by_phone
        if kind == "order_paid":
            paid = paid_cents(event.amount)
            payer.net, payer.gross = payer.net + paid, payer.gross + paid
        elif kind in REFUND_TYPES:
            refunded = cents(event.amount)
            payer.net = 0 if refunded is None else max(0, payer.net - refunded)
        self._move(before, (payer.counts, payer.region))

    def _move(self, before: tuple[bool, str | None], after: tuple[bool, str | None]) -> None:
        if before == after:
            return
        for (counted, region), step in ((before, -1), (after, 1)):
            if counted and region is not None:
                self.counts[region] += step
                self.counts[TOTAL] += step

    def snapshot(self) -> dict[str, int]:
        """The counts as they stand (regions with no counted payer left out)."""
        return {region: n for region, n in self.counts.items() if n > 0}
