"""What the ledger answers: grants, hold changes, budget states, a customer's grants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

GrantStatus = Literal["granted", "held", "exhausted", "customer_cap", "daily_cap", "no_beneficiary"]
HoldState = Literal["held", "released", "voided", "expired"]
GRANTED: frozenset[str] = frozenset({"granted", "held"})


@dataclass(frozen=True, slots=True)
class Grant:
    """One offer tried for one event.

    ``granted``: the reward is the beneficiary's now. ``held``: reserved (a budget unit
    is spent) but pending until the invitee's ``release_on`` outcome; voided if they
    turn out fraudulent or never buy before ``void_at``. ``exhausted`` (限量 total
    spent), ``customer_cap`` and ``daily_cap``: refused, the next offer of the group
    was tried. ``no_beneficiary``: a referrer reward on an event without a referrer.
    """

    offer_id: str
    status: GrantStatus
    beneficiary_id: str | None
    remaining_total: int | None  # units left after this grant; None = no total budget
    hold_id: str | None = None
    release_on: str | None = None
    void_at: datetime | None = None

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
    reason: str  # the outcome type that released it, "fraud", "chargeback" or "expired"
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


@dataclass(frozen=True, slots=True)
class CustomerGrant:
    """An offer a customer received, newest first, with the hold's current state."""

    offer_id: str
    event_id: str
    status: Literal["granted", "held", "released", "voided", "expired", "unknown"]  # unknown: hold decided long ago
    at: datetime
    hold_id: str | None
    void_at: datetime | None
