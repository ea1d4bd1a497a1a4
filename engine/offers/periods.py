"""Calendar periods of caps in the merchant's time zone, and an outcome's order reference."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.events import Event
from engine.model import Period


@dataclass(frozen=True, slots=True)
class Periods:
    """The local day (``2025-03-31``), ISO week (``2025-W14``) and month (``2025-03``) of a moment."""

    day: str
    week: str
    month: str

    @classmethod
    def of(cls, local: datetime) -> Periods:
        """``local`` must already be in the pack's zone: periods start at local midnight."""
        year, week, _ = local.isocalendar()
        return cls(local.date().isoformat(), f"{year}-W{week:02d}", f"{local.year}-{local.month:02d}")

    def customer_field(self, beneficiary: str, period: Period) -> str:
        """The per-customer counter's field: the customer alone (lifetime) or with the period."""
        if period is Period.DAY:
            return f"{beneficiary}|{self.day}"
        if period is Period.WEEK:
            return f"{beneficiary}|{self.week}"
        if period is Period.MONTH:
            return f"{beneficiary}|{self.month}"
        return beneficiary


def order_reference(event: Event) -> str:
    """``attributes.order_id`` when the storefront sends one: ties a checkout to its payment."""
    value = event.attributes.get("order_id")
    return "" if value is None else str(value)
