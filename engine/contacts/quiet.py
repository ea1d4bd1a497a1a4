"""Quiet hours (22:00-08:00): when they hold and when they end, in the pack's time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from engine.pack.durations import in_daily_range


def quiet_until(moment: datetime, quiet_from: time | None, quiet_to: time | None, zone: ZoneInfo) -> datetime | None:
    """The end of the quiet period ``moment`` falls in, or None when it is not quiet."""
    if quiet_from is None or quiet_to is None:
        return None
    local = moment.astimezone(zone)
    if not in_daily_range(local.time().replace(tzinfo=None), quiet_from, quiet_to):
        return None
    day = local.date() if local.time().replace(tzinfo=None) < quiet_to else local.date() + timedelta(days=1)
    return datetime.combine(day, quiet_to, tzinfo=zone)
