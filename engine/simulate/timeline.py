"""Simulated time: the window of the log, parents' daily rhythm, and event drafts.

Times are epoch seconds (floats) until the log is written; the writer renders them in
the studio's zone (+08:00), which is how the mini-program reports them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

CHINA = timezone(timedelta(hours=8))
DAY = 86_400.0
HOUR = 3_600.0
MINUTE = 60.0

#: Relative activity of parents by local hour: lunch break, and evenings after bedtime stories.
PARENT_HOURS = (
    0.25,
    0.1,
    0.05,
    0.04,
    0.04,
    0.1,
    0.35,
    0.8,
    1.1,
    1.3,
    1.4,
    1.5,
    1.7,
    1.4,
    1.2,
    1.2,
    1.2,
    1.3,
    1.5,
    1.9,
    2.3,
    2.2,
    1.5,
    0.7,
)
#: Farms work when staff sleep, and when a campaign opens.
FARM_HOURS = (
    1.5,
    2.0,
    2.2,
    2.2,
    2.0,
    1.2,
    0.6,
    0.4,
    0.4,
    0.5,
    0.6,
    0.6,
    0.6,
    0.6,
    0.6,
    0.6,
    0.6,
    0.6,
    0.7,
    0.9,
    1.2,
    1.2,
    1.3,
    1.4,
)


@dataclass(slots=True)
class Draft:
    """An event before it gets its id: time, the API fields, and the ground truth."""

    t: float
    fields: dict[str, Any]
    truth: str
    family: str = ""  # the story's family: an attack's truth, or which honest look-alike
    seq: int = 0  # tie-break: creation order, so equal times keep a unit's causal order
    attributes: dict[str, Any] = field(default_factory=dict)


class Timeline:
    """The simulated window [start, end) and samplers of moments inside it."""

    def __init__(self, rng: random.Random, start: date, days: int) -> None:
        self.rng = rng
        self.start = datetime(start.year, start.month, start.day, tzinfo=CHINA).timestamp()
        self.end = self.start + days * DAY
        self.days = days

    def inside(self, t: float) -> bool:
        return self.start <= t < self.end

    def moment(self, hours: tuple[float, ...] = PARENT_HOURS) -> float:
        """A random second in the window, weighted by the hour-of-day profile."""
        day = self.rng.randrange(self.days)
        hour = self.rng.choices(range(24), weights=hours)[0]
        return self.start + day * DAY + hour * HOUR + self.rng.random() * HOUR

    def daytime_after(self, t: float, min_s: float, max_s: float) -> float:
        """A moment ``min_s..max_s`` after ``t``, moved out of the small hours (parents sleep)."""
        later = t + self.rng.uniform(min_s, max_s)
        hour = local_hour(later)
        if 0 <= hour < 7:
            later += (8 - hour) * HOUR + self.rng.random() * 2 * HOUR
        return later

    def local_date(self, t: float) -> date:
        return datetime.fromtimestamp(t, CHINA).date()


def local_hour(t: float) -> int:
    return datetime.fromtimestamp(t, CHINA).hour


def render(t: float) -> str:
    """ISO-8601 in +08:00 with milliseconds, as the mini-program sends it."""
    return datetime.fromtimestamp(round(t, 3), CHINA).isoformat(timespec="milliseconds")
