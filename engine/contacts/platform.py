"""WeCom's own group-message quota: per customer (or group) at most one a day on average per month.

WeCom lets a customer receive at most as many group messages in a calendar month as
the month has days; a merchant may declare a stricter ``contacts.platform_monthly``.
The quota is a counter per calendar month in the pack's time zone, checked and
incremented by the gate's Lua script together with the caps, so a contact refused
by a later cap never consumes it and racing staff cannot overshoot it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from engine.model import ContactPolicy

#: The channel WeCom's group-message quota applies to (the shipped pack's name for it).
GROUP_MESSAGE = "group_message"


@dataclass(frozen=True, slots=True)
class Quota:
    """One counted period of a platform limit: ``name`` keys the counter, unique per period."""

    name: str
    limit: int
    resets_at: datetime  # the first moment of the next period, when the counter is forgotten


class WeComMonthly:
    """``PlatformLimit`` for WeCom group messages: min(days in the month, platform_monthly)."""

    def __init__(self, channel: str = GROUP_MESSAGE) -> None:
        self.channel = channel

    def quota(self, *, channel: str, at: datetime, policy: ContactPolicy, zone: ZoneInfo) -> Quota | None:
        if channel != self.channel:
            return None
        local = at.astimezone(zone)
        days = calendar.monthrange(local.year, local.month)[1]
        limit = days if policy.platform_monthly is None else min(days, policy.platform_monthly)
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        resets_at = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
        return Quota(f"wecom:{local.year:04d}-{local.month:02d}", limit, resets_at)
