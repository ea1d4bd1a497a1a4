"""The studio's week: when parents use their phones, when the studio is open, when packets drop.

Times are Beijing time (UTC+8). Parents use the mini-program in the morning, at lunch
and most in the evening after the children are in bed; the studio is open 10:00-20:00
and busiest at weekends; the staff post a weekly welfare packet in each group, and the
year-end red-packet rain (红包雨) opens every evening at 20:00 sharp.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))
#: relative use of the mini-program by hour of day (parents of small children)
PARENT_HOURS = (
    0.25,
    0.12,
    0.05,
    0.03,
    0.03,
    0.06,
    0.25,
    0.7,
    1.0,
    1.2,
    1.3,
    1.2,
    1.6,
    1.4,
    1.0,
    0.9,
    0.9,
    1.0,
    1.1,
    1.4,
    1.9,
    2.1,
    1.7,
    0.8,
)
OPEN_HOURS = tuple(1.0 if 10 <= h < 20 else 0.0 for h in range(24))


class Clock:
    """Moments inside the window [start, start + days)."""

    def __init__(self, start: datetime, days: int) -> None:
        self.start = start
        self.days = days
        self.end = start + timedelta(days=days)

    def day(self, n: int) -> datetime:
        return self.start + timedelta(days=n)

    def weekend(self, n: int) -> bool:
        return self.day(n).weekday() >= 5

    def pick_day(
        self, rng: random.Random, *, weekend_weight: float = 1.3, first: int = 0, last: int | None = None
    ) -> int:
        last = self.days - 1 if last is None else last
        days = list(range(first, last + 1))
        return rng.choices(days, [weekend_weight if self.weekend(d) else 1.0 for d in days])[0]

    def at(self, rng: random.Random, day: int, hours: tuple[float, ...] = PARENT_HOURS) -> datetime:
        """A moment of ``day`` with the hour drawn from ``hours``' weights."""
        hour = rng.choices(range(24), hours)[0]
        return self.day(day) + timedelta(hours=hour, seconds=rng.uniform(0, 3600))

    def parent_moment(self, rng: random.Random, **kw: int) -> datetime:
        return self.at(rng, self.pick_day(rng, **kw))

    def studio_moment(self, rng: random.Random, day: int) -> datetime:
        return self.at(rng, day, OPEN_HOURS)

    def next_open(self, rng: random.Random, after: datetime, min_days: float, max_days: float) -> datetime:
        """A booked session: some days after ``after``, in opening hours (may fall after the window)."""
        day = after + timedelta(days=rng.uniform(min_days, max_days))
        base = day.replace(hour=0, minute=0, second=0, microsecond=0)
        return base + timedelta(hours=rng.choice((10, 11, 13, 14, 15, 16, 17, 18)), minutes=rng.uniform(0, 50))

    def inside(self, t: datetime) -> bool:
        return self.start <= t < self.end

    def rain_opening(self, day: int) -> datetime:
        """The evening's red-packet rain opens at 20:00:00."""
        return self.day(day) + timedelta(hours=20)


def later(t: datetime, rng: random.Random, lo_s: float, hi_s: float) -> datetime:
    return t + timedelta(seconds=rng.uniform(lo_s, hi_s))


def human_delay(rng: random.Random, median_s: float) -> timedelta:
    """A person's reaction: log-normal around ``median_s`` (most soon, a long tail)."""
    return timedelta(seconds=median_s * rng.lognormvariate(0, 0.9))
