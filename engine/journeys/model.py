"""Compiled journeys, community rules and webhooks: the contract the runtime reads.

Built by ``engine.compile.journeys`` from the pack; carried in
``CompiledRuleSet.automation``. Nothing here parses YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.diagnostics import Location
from engine.expr.tree import Node


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # offer | contact | tag | webhook
    target: str  # offer id, channel, tag or webhook name


@dataclass(frozen=True, slots=True)
class Transition:
    index: int  # position in the journey, the transition's stable name (t0, t1, ...)
    sources: frozenset[str]
    on: frozenset[str]
    condition: Node | None
    to: str
    actions: tuple[Action, ...]
    location: Location


@dataclass(frozen=True, slots=True)
class Timeout:
    """``after``: seconds since entering a stage; ``silent``: since the customer's last event."""

    id: str
    stages: frozenset[str]
    seconds: int
    silent: bool
    condition: Node | None
    to: str | None
    actions: tuple[Action, ...]
    location: Location


@dataclass(frozen=True, slots=True)
class Conversion:
    id: str
    source: str
    target: str
    label: str


@dataclass(frozen=True, slots=True)
class Journey:
    id: str
    start: str
    stages: tuple[str, ...]
    labels: Mapping[str, str]
    transitions: tuple[Transition, ...]
    timeouts: tuple[Timeout, ...]
    conversions: tuple[Conversion, ...]
    location: Location

    def timeouts_in(self, stage: str) -> tuple[Timeout, ...]:
        return tuple(t for t in self.timeouts if stage in t.stages)

    def timeout(self, timeout_id: str) -> Timeout | None:
        return next((t for t in self.timeouts if t.id == timeout_id), None)


@dataclass(frozen=True, slots=True)
class Webhook:
    name: str
    url: str
    secret_env: str
    attempts: int
    backoff_seconds: int
    timeout_seconds: int


@dataclass(frozen=True, slots=True)
class HealthRule:
    """Raises ``signal`` on a group when ``condition`` holds (on ``on`` events or ``within`` a red packet)."""

    id: str
    on: frozenset[str]
    within_seconds: int | None
    condition: Node
    signal: str
    reason_zh: str
    reason_en: str
    actions: tuple[Action, ...]
    location: Location


@dataclass(frozen=True, slots=True)
class Automation:
    journeys: tuple[Journey, ...] = ()
    community: tuple[HealthRule, ...] = ()
    webhooks: Mapping[str, Webhook] = field(default_factory=dict)

    @property
    def red_packet_checks(self) -> tuple[HealthRule, ...]:
        return tuple(r for r in self.community if r.within_seconds is not None)

    def journey(self, journey_id: str) -> Journey | None:
        return next((j for j in self.journeys if j.id == journey_id), None)
