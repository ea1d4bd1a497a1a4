"""Add up a day's shape counters (engine/stats/counters.py) into what the dashboard draws.

A day is read whole (one ``HGETALL`` per day, the day and the same weekday a week
before in one round trip) and summed here: 24 hourly points of events, decisions,
rewards granted and withheld with their value, and per-rule hits that the route names
with the running pack's families and reasons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.stats.counters import GRANTED_VALUE, WITHHELD_VALUE

HOURS = 24
_DECISIONS = {"a": "allow", "r": "review", "d": "deny"}
MEASURES = ("events", "allow", "review", "deny", "granted", "granted_value", "withheld", "withheld_value")


@dataclass
class DayTally:
    """One local day: hourly series of every measure, and counts per rule and per offer."""

    hours: dict[str, list[float]] = field(
        default_factory=lambda: {m: [0.0 if m.endswith("_value") else 0] * HOURS for m in MEASURES}
    )
    rules: Counter[str] = field(default_factory=Counter)
    granted_offers: Counter[str] = field(default_factory=Counter)
    withheld_offers: Counter[str] = field(default_factory=Counter)

    def total(self, measure: str, until_hour: int = HOURS) -> float:
        """The sum of ``measure`` over the hours before ``until_hour``."""
        return sum(self.hours[measure][:until_hour])


def tally(raw: Mapping[bytes | str, bytes | str | int]) -> DayTally:
    """The day's tally from its hash (fields ``<HH>|<shape>`` and ``<HH>|$g`` / ``$w``); foreign fields are skipped."""
    day = DayTally()
    for name, amount in raw.items():
        field_name = name.decode() if isinstance(name, bytes) else str(name)
        hour_text, sep, shape = field_name.partition("|")
        if not sep or not hour_text.isdigit() or not 0 <= int(hour_text) < HOURS:
            continue
        hour, count = int(hour_text), int(amount)
        if shape == GRANTED_VALUE:
            day.hours["granted_value"][hour] += count / 100
        elif shape == WITHHELD_VALUE:
            day.hours["withheld_value"][hour] += count / 100
        else:
            _add_shape(day, hour, shape, count)
    for measure in ("granted_value", "withheld_value"):
        day.hours[measure] = [round(v, 2) for v in day.hours[measure]]
    return day


def _add_shape(day: DayTally, hour: int, shape: str, count: int) -> None:
    parts = shape.split(";")
    if len(parts) != 4 or parts[0] not in _DECISIONS:
        return
    decision, granted, withheld, rules = parts
    series = day.hours
    series["events"][hour] += count
    series[_DECISIONS[decision]][hour] += count
    for offer in filter(None, granted.split(",")):
        series["granted"][hour] += count
        day.granted_offers[offer] += count
    for offer in filter(None, withheld.split(",")):
        series["withheld"][hour] += count
        day.withheld_offers[offer] += count
    for rule in filter(None, rules.split(",")):
        day.rules[rule] += count
