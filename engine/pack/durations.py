"""Durations (``24h``, ``7d``) and daily time ranges (``22:00-08:00``) as marketers write them."""

from __future__ import annotations

import re
from datetime import time

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d{1,6})\s*([smhdw])$")
MAX_DURATION = 400 * 86400


def parse_duration(text: str) -> int:
    """Seconds in ``text``; ValueError with a readable message otherwise."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"'{text}' is not a duration; write a number and a unit: 90s, 30m, 24h, 7d, 2w")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"'{text}' must be longer than zero")
    if seconds > MAX_DURATION:
        raise ValueError(f"'{text}' is longer than the 400-day maximum")
    return seconds


def parse_daily_range(text: str) -> tuple[time, time]:
    """``HH:MM-HH:MM``; the range may wrap midnight (22:00-08:00)."""
    start_text, end_text = text.split("-", 1)
    start, end = _clock(start_text), _clock(end_text)
    if start == end:
        raise ValueError(f"'{text}' is an empty range")
    return start, end


def _clock(text: str) -> time:
    hours, minutes = (int(p) for p in text.strip().split(":"))
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"'{text}' is not a time of day (00:00-23:59)")
    return time(hours, minutes)


def in_daily_range(moment: time, start: time, end: time) -> bool:
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end
