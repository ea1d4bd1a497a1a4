"""What the ledger answers: grants, hold changes, budget states, a customer's grants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

GrantStatus = Literal[
    "granted",
    "held",
    "reserved",
    "exhausted",
    "customer_cap",
    "daily_cap",
    "weekly_cap",
    "monthly_cap",
    "no_beneficiary",
    "event_taken",
    "too_late",
]
HoldState = Literal["held", "released", "voided", "expired"]
ReservationState = Literal["committed", "cancelled", "refunded", "lapsed"]
GRANTED: frozenset[str] = frozenset({"granted", "held", "reserved"})
#: What the ledger answers when it refuses an offer: budgets, caps, no beneficiary, a taken event.
REFUSED: frozenset[str] = frozenset(get_args(GrantStatus)) - GRANTED


@dataclass(frozen=True, slots=True)
class Grant:
    """One offer tried for one event.

    ``granted``: the reward is the beneficiary's now. ``held``: reserved (a budget unit
    is spent) but pending until the invitee's ``release_on`` outcome; voided if they
    turn out fraudulent or never buy before ``void_at``. ``reserved``: a checkout
    offer's unit set aside until the order is paid (committed) or cancelled, refunded
    or left unpaid past ``expires_at`` (the unit goes back). ``exhausted`` (限量 total
    spent), ``customer_cap`` and ``daily_cap`` / ``weekly_cap`` / ``monthly_cap``:
    refused, the next offer of the group was tried. ``no_beneficiary``: a referrer reward
    on an event without a referrer. ``event_taken``: this event id already spent a unit
    of the offer on another beneficiary (nothing else of the group is tried for it).
    ``too_late``: a hold or reservation that would end (``void_at`` / ``expires_at``)
    before the server answers, for an event dated that far back (trusted event times).
    """

    offer_id: str
    status: GrantStatus
    beneficiary_id: str | None
    remaining_total: int | None  # units left after this grant; None = no total budget
    hold_id: str | None = None
    release_on: str | None = None
    void_at: datetime | None = None
    reservation_id: str | None = None  # reserved: committed by the paid order, else released
    expires_at: datetime | None = None  # reserved: released by itself if not committed by then
    fresh: bool = field(default=True, compare=False)  # False: a retried event's stored outcome (counted once)
    causes: tuple[str, ...] = ()  # a refusal's every cause, ``status`` first (exhausted and customer_cap...)

    @property
    def granted(self) -> bool:
        return self.status in GRANTED


@dataclass(frozen=True, slots=True)
class HoldChange:
    """A held reward that left ``held`` because of this call (each hold does so once).

    ``released``: the invitee's first paid order arrived, the beneficiary gets it.
    ``voided``: fraud label or chargeback; ``expired``: no paid order before
    ``void_at``. Both return the budget unit (total and the beneficiary's cap).
    """

    hold_id: str
    offer_id: str
    status: Literal["released", "voided", "expired"]
    reason: str  # the outcome that released it, "fraud", "chargeback", "expired", "refund" or "return_window"
    subject_id: str  # the invitee whose behaviour decides
    beneficiary_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class BudgetState:
    """Counters of one offer; ``used`` counts granted and pending units, net of voids."""

    offer_id: str
    total: int | None
    used: int
    remaining: int | None
    today: int  # grants on the current local day (the pack's time zone)
    per_day: int | None
    granted: int
    held: int  # pending now
    released: int
    voided: int
    expired: int
    reserved: int = 0  # uncommitted checkout reservations now
    committed: int = 0  # reservations whose order was paid (net of refunds)
    cancelled: int = 0  # released before payment (cancel / refund outcome)
    refunded: int = 0  # released after payment
    lapsed: int = 0  # released because the order was not paid in time
    week: int = 0  # grants in the current local week / month (net of releases)
    month: int = 0


@dataclass(frozen=True, slots=True)
class CustomerGrant:
    """An offer a customer received, newest first, with the hold's current state."""

    offer_id: str
    event_id: str
    status: Literal["granted", "held", "released", "voided", "expired", "unknown"]  # unknown: hold decided long ago
    at: datetime
    hold_id: str | None
    void_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReservationChange:
    """A reservation that moved because of this call: each step happens once."""

    reservation_id: str
    offer_id: str
    status: ReservationState
    reason: str  # the outcome type, or "expired"
    customer_id: str
    at: datetime
