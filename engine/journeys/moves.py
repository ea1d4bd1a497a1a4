"""The moves one event may make in each journey, decided in Python before Redis is asked.

Every transition on the event's type is checked once, here, against the event's facts
(its fields, the customer's features and tier); the allowed ones go to the STEP script
(engine.journeys.state) as ``(stage, to, log entry)`` choices, and the script takes the
first choice for the customer's stored stage atomically. One event thus costs one round
trip for all journeys together, and a concurrent event or a timeout firing in between
cannot make it act on a stage it did not see.

A condition reading ``journey.stage`` is checked once per source stage. One reading
``journey.days_in_stage`` or ``journey.days_silent`` depends on the stored stay: its
choices are sent as *ask*, and the runner falls back to read, evaluate and
compare-and-set when the customer's stage reaches one.

A journey is left alone by an event none of its transitions is on, unless it has a
``silent`` timeout or a condition reading the stay's days: those need every event's
time (``last``) and the start stage's ``since``. Nothing else of such a journey could
change, except that the start stage's ``since`` is set by the first event it concerns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.backends.python_codegen import generate_matcher
from engine.events import Event
from engine.expr.tree import names_read
from engine.features.spec import Aggregate, Entity, FeatureSpec, ListFeature, WindowedFeature
from engine.journeys.model import Journey, Transition
from engine.model import Predicate
from engine.rule_engine import LoadedRuleSet

STAY_NAMES = frozenset({"journey.days_in_stage", "journey.days_silent"})
#: The age of the earliest / latest *earlier* event: the scoring snapshot excludes the
#: event itself, a read after it was recorded does not, so these are always read.
_EARLIER_EVENT = (Aggregate.FIRST_SEEN, Aggregate.LAST_SEEN)


@dataclass(frozen=True, slots=True)
class Choice:
    """Move to ``transition.to`` if the customer is in ``stage``; ``ask``: evaluate against the stay first."""

    stage: str
    transition: Transition
    ask: bool
    entry: str  # the log entry of the move, "" when asking

    @property
    def wire(self) -> tuple[str, str, str]:
        """As STEP reads it: stage, to ("" asks), log entry."""
        return self.stage, "" if self.ask else self.transition.to, self.entry


@dataclass(frozen=True, slots=True)
class JourneyPlan:
    journey: Journey
    types: frozenset[str] | None  # the event types it concerns; None: every type
    reads: Mapping[int, frozenset[str]]  # transition index -> names its condition reads

    def concerns(self, event_type: str) -> bool:
        return self.types is None or event_type in self.types

    def transitions_on(self, event_type: str) -> list[Transition]:
        return [t for t in self.journey.transitions if event_type in t.on]


@dataclass(frozen=True, slots=True)
class Compiled:
    """A rule set's journey conditions (python backend, keyed ``<journey>:<name>``) and plans."""

    match: Callable[[Mapping[str, Any]], list[str]]
    plans: tuple[JourneyPlan, ...]
    customer_specs: tuple[FeatureSpec, ...]  # the customer's own features, read when none were given
    customer_names: frozenset[str]
    given_names: frozenset[str]  # of those, the ones a scoring snapshot holds as a read would

    @classmethod
    def build(cls, loaded: LoadedRuleSet) -> Compiled:
        predicates = []
        plans = []
        for journey in loaded.ruleset.automation.journeys:
            predicates += [
                Predicate(f"{journey.id}:t{t.index}", frozenset(), t.condition)
                for t in journey.transitions
                if t.condition is not None
            ]
            predicates += [
                Predicate(f"{journey.id}:{t.id}", frozenset(), t.condition) for t in journey.timeouts if t.condition
            ]
            plans.append(_plan(journey))
        specs = tuple(
            s for s in loaded.ruleset.features.values()
            if (isinstance(s, WindowedFeature) and s.by is Entity.CUSTOMER)
            or (isinstance(s, ListFeature) and s.entity is Entity.CUSTOMER)
        )  # fmt: skip
        given = frozenset(
            s.name for s in specs if not (isinstance(s, WindowedFeature) and s.aggregate in _EARLIER_EVENT)
        )
        return cls(generate_matcher(predicates), tuple(plans), specs, frozenset(s.name for s in specs), given)

    def concerned(self, event_type: str) -> list[JourneyPlan]:
        return [p for p in self.plans if p.concerns(event_type)]

    def checked_up_front(self, plans: list[JourneyPlan], event_type: str) -> frozenset[str] | None:
        """The names read by the conditions checked here for this event; None when there is none to check."""
        found: set[str] = set()
        checked = False
        for plan in plans:
            for t in plan.transitions_on(event_type):
                if t.condition is not None and not plan.reads[t.index] & STAY_NAMES:
                    checked = True
                    found |= plan.reads[t.index]
        return frozenset(found) if checked else None

    def needs_read(self, names: frozenset[str], features: Mapping[str, Any] | None, tier: str | None) -> bool:
        """Whether the customer's features (and tier) must be read: the ones given do not cover ``names``."""
        if tier is None and "journey.tier" in names:
            return True
        wanted = names & self.customer_names
        return bool(wanted) and (features is None or not all(n in self.given_names and n in features for n in wanted))

    def given(self, features: Mapping[str, Any]) -> dict[str, Any]:
        """The given features a read of the customer's own would have returned."""
        return {n: v for n, v in features.items() if n in self.given_names}


def _plan(journey: Journey) -> JourneyPlan:
    reads = {t.index: frozenset(names_read(t.condition)) if t.condition else frozenset() for t in journey.transitions}
    timeout_reads = {n for t in journey.timeouts if t.condition for n in names_read(t.condition)}
    every = any(t.silent for t in journey.timeouts) or bool(
        (timeout_reads | {n for names in reads.values() for n in names}) & STAY_NAMES
    )
    types = None if every else frozenset(e for t in journey.transitions for e in t.on)
    return JourneyPlan(journey, types, reads)


class Checks:
    """The conditions' verdicts on one event's facts, per ``journey.stage`` for a condition reading it."""

    def __init__(self, match: Callable[[Mapping[str, Any]], list[str]], facts: dict[str, Any]) -> None:
        self.match = match
        self.facts = facts
        self._matched: dict[str | None, frozenset[str]] = {}

    def allows(self, plan: JourneyPlan, transition: Transition, stage: str) -> bool:
        key = stage if "journey.stage" in plan.reads[transition.index] else None
        if key not in self._matched:
            facts = self.facts if key is None else self.facts | {"journey.stage": key}
            self._matched[key] = frozenset(self.match(facts))
        return f"{plan.journey.id}:t{transition.index}" in self._matched[key]


def choices(plan: JourneyPlan, event: Event, checks: Checks | None) -> list[Choice]:
    """In order, the first allowed move (or ask) from each stage on ``event``: first match wins."""
    out: list[Choice] = []
    taken: set[str] = set()
    for t in plan.transitions_on(event.type):
        ask = bool(plan.reads[t.index] & STAY_NAMES)
        for stage in sorted(t.sources - taken):
            if ask or t.condition is None or (checks is not None and checks.allows(plan, t, stage)):
                taken.add(stage)
                out.append(Choice(stage, t, ask, "" if ask else log_entry(event, stage, t.to)))
    return out


def log_entry(event: Event, source: str, target: str) -> str:
    return json.dumps(
        {"at": event.epoch, "from": source, "to": target, "by": event.type, "event": event.event_id},
        separators=(",", ":"),
    )
