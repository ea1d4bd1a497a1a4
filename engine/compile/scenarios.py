"""``scenarios:`` items: stateful sequences, checked against what the pack declares.

Every name a scenario uses (offers, rules, tiers, journeys and their stages, contact
channels, list entities) must exist, with a did-you-mean, and every event must be one
the API would accept: a scenario that cannot run is a ``yutang check`` error, not a
FAIL at run time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from engine.diagnostics import Code, Diagnostic, did_you_mean
from engine.events import OUTCOME_TYPES, SCORED_TYPES, Event
from engine.features.spec import Entity
from engine.model import Scenario, ScenarioStep
from engine.pack.durations import parse_duration
from engine.pack.loader import Located
from engine.pack.scenario_schema import ScenarioItem, ScenarioStepItem
from engine.phones import phone_region

#: Scenario clocks start here unless the scenario says ``start:`` (a Monday, Shanghai 10:00).
SCENARIO_START = datetime.fromisoformat("2026-11-02T10:00:00+08:00")

#: Which expectations each kind of step can be checked on (journey and tags: any step).
SCORED = frozenset(
    {"decision", "reasons", "not_reasons", "shadow", "tier", "offers", "withheld", "status", "remaining"}
)
GROUP = SCORED | {"outcome", "reason", "group_state", "group_size"}
EXPECTS: Mapping[str, frozenset[str]] = {
    "score": SCORED,
    "outcome": frozenset({"holds", "reservations", "remaining"}),
    "contact": frozenset({"allowed", "reason", "next_allowed_at", "tier"}),
    "open_group": GROUP,
    "join_group": GROUP,
    "list": frozenset(),
    "customer": frozenset({"tier", "offers", "status", "remaining"}),
    "advance": frozenset({"remaining"}),
}
ANY_STEP = frozenset({"journey", "tags"})
OFFER_KEYED = ("offers", "withheld", "status", "remaining", "holds", "reservations")


@dataclass(frozen=True, slots=True)
class Names:
    """What a scenario may refer to."""

    rules: Collection[str]
    tiers: Collection[str]
    offers: Collection[str]
    group_buys: Collection[str]
    channels: Collection[str]
    stages: Mapping[str, Collection[str]]  # journey -> its stages
    region: str


def compile_scenarios(
    items: list[Located[ScenarioItem]], names: Names, diagnostics: list[Diagnostic]
) -> tuple[Scenario, ...]:
    scenarios: list[Scenario] = []
    for located in items:
        item = located.item
        checker = _Checker(located, names, diagnostics)
        start = checker.start()
        steps = tuple(checker.step(index, step) for index, step in enumerate(item.steps))
        scenarios.append(
            Scenario(item.name, start, item.customer or "scenario-customer", steps, located.location(key=True))
        )
    return tuple(scenarios)


class _Checker:
    def __init__(self, located: Located[ScenarioItem], names: Names, diagnostics: list[Diagnostic]) -> None:
        self.located, self.names, self.diagnostics = located, names, diagnostics
        self.subject = f"scenario '{located.item.name}'"
        self.opened = False

    def report(self, where: tuple[str | int, ...], code: Code, message: str, *, key: bool = False) -> None:
        location = self.located.location(*where, key=key)
        self.diagnostics.append(Diagnostic(location, code, f"{self.subject}: {message}"))

    def start(self) -> datetime:
        text = self.located.item.start
        if text is None:
            return SCENARIO_START
        try:
            moment = text if isinstance(text, datetime) else datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            self.report(("start",), Code.INVALID_VALUE, f"start {text!r} is not an ISO time with a zone")
            return SCENARIO_START
        return moment

    def step(self, index: int, step: ScenarioStepItem) -> ScenarioStep:
        kind, at = step.kind, ("steps", index)
        body: Any = getattr(step, kind)
        if kind == "score":
            self.event((*at, kind), body, SCORED_TYPES, "a scored event type (outcomes go in 'outcome:')")
        elif kind == "outcome":
            self.event((*at, kind), body, OUTCOME_TYPES, "an outcome type (scored events go in 'score:')")
        elif kind == "open_group":
            self.group_offer(at, body.offer)
            self.event((*at, kind, "join"), {"type": "group_buy_join", **body.join}, {"group_buy_join"}, "")
            self.opened = True
        elif kind == "join_group":
            if not self.opened:
                self.report((*at, kind), Code.INVALID_VALUE, "join_group joins the last opened group: open one first")
            self.event((*at, kind), {"type": "group_buy_join", **body}, {"group_buy_join"}, "")
        elif kind == "contact" and body.channel not in self.names.channels:
            hint = did_you_mean(body.channel, self.names.channels)
            self.report((*at, kind, "channel"), Code.UNKNOWN_CHANNEL, f"unknown contact channel '{body.channel}'{hint}")
        elif kind == "list" and body.entity not in {e.value for e in Entity}:
            hint = did_you_mean(body.entity, [e.value for e in Entity])
            self.report((*at, kind, "entity"), Code.UNKNOWN_ENTITY, f"unknown list entity '{body.entity}'{hint}")
        elif kind == "advance":
            try:
                parse_duration(body)
            except ValueError as err:
                self.report((*at, kind), Code.BAD_WINDOW, str(err))
        expect = step.expect.model_dump(exclude_none=True, mode="json") if step.expect else {}
        self.expectations(at, kind, expect)
        return ScenarioStep(kind, body, expect, self.located.location(*at, kind, key=True))

    def event(self, where: tuple[str | int, ...], raw: Mapping[str, Any], types: Collection[str], hint: str) -> None:
        kind = raw.get("type")
        if kind not in types:
            close = did_you_mean(str(kind), types)
            self.report((*where, "type"), Code.UNKNOWN_EVENT_TYPE, f"event type {kind!r} is not {hint}{close}".strip())
            return
        values = {"event_id": "check", "customer": "check", "timestamp": SCENARIO_START, **raw}
        try:
            with phone_region(self.names.region):
                Event.model_validate(values)
        except ValidationError as err:
            for error in err.errors(include_url=False):
                field = ".".join(str(p) for p in error["loc"])
                self.report((*where, *error["loc"]), Code.INVALID_VALUE, f"event.{field}: {error['msg']}")

    def group_offer(self, at: tuple[str | int, ...], offer: str) -> None:
        if offer not in self.names.group_buys:
            hint = did_you_mean(offer, self.names.group_buys)
            self.report((*at, "open_group", "offer"), Code.UNKNOWN_OFFER, f"'{offer}' is not a group-buy offer{hint}")

    def expectations(self, at: tuple[str | int, ...], kind: str, expect: Mapping[str, Any]) -> None:
        where = (*at, "expect")
        for field in expect:
            if field not in EXPECTS[kind] | ANY_STEP:
                allowed = ", ".join(sorted(EXPECTS[kind] | ANY_STEP))
                message = f"a {kind} step cannot expect '{field}' ({allowed})"
                self.report((*where, field), Code.INVALID_VALUE, message, key=True)
        for field in OFFER_KEYED:
            for offer in expect.get(field, ()):
                self.known((*where, field), offer, self.names.offers, Code.UNKNOWN_OFFER, "offer")
        for field in ("reasons", "not_reasons", "shadow"):
            for rule in expect.get(field, ()):
                self.known((*where, field), rule, self.names.rules, Code.UNKNOWN_RULE, "rule")
        if "tier" in expect:
            self.known((*where, "tier"), expect["tier"], self.names.tiers, Code.UNKNOWN_TIER, "tier")
        for journey, stage in expect.get("journey", {}).items():
            if journey not in self.names.stages:
                self.known((*where, "journey"), journey, self.names.stages, Code.UNKNOWN_STAGE, "journey")
            else:
                self.known((*where, "journey", journey), stage, self.names.stages[journey], Code.UNKNOWN_STAGE, "stage")

    def known(self, where: tuple[str | int, ...], name: str, names: Collection[str], code: Code, what: str) -> None:
        if name not in names:
            self.report(where, code, f"unknown {what} '{name}'{did_you_mean(name, names)}")
