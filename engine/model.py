"""The compiled rule set: the typed, immutable contract every other part reads.

rule text -> validated pack (engine.pack) -> CompiledRuleSet (this module) ->
evaluation backends (engine.backends) -> Evaluation (engine.evaluation).
Nothing here parses YAML; nothing downstream sees YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from engine.area.payers import AreaPolicy
from engine.diagnostics import Location
from engine.expr.tree import Node, Type
from engine.features.spec import FeatureSpec
from engine.journeys.model import Automation


class Decision(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    DENY = "deny"


DECISION_SEVERITY: dict[Decision, int] = {Decision.ALLOW: 0, Decision.REVIEW: 1, Decision.DENY: 2}


class Mode(StrEnum):
    ACTIVE = "active"
    SHADOW = "shadow"
    OFF = "off"


class FailMode(StrEnum):
    """What a scored event gets when Redis is unreachable."""

    OPEN = "open"  # allow, grant nothing
    CLOSED = "closed"  # review


@dataclass(frozen=True, slots=True)
class Predicate:
    """One condition the backends match: a rule, a tier or an offer's eligibility.

    ``key`` is namespaced (``rule:<id>``, ``tier:<id>``, ``offer:<id>``) so that one
    match pass answers all three.
    """

    key: str
    on: frozenset[str]  # event types; empty = every scored type
    condition: Node


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    code: int
    on: frozenset[str]
    condition: Node
    score: int
    decision: Decision | None
    reason_zh: str
    reason_en: str
    mode: Mode
    expires: date | None
    reads: tuple[str, ...]  # names whose values explain a hit
    location: Location


@dataclass(frozen=True, slots=True)
class Tier:
    id: str
    label: str
    condition: Node | None  # None: the default tier
    location: Location


class EffectType(StrEnum):
    COUPON = "coupon"  # fixed reduction (yuan)
    DISCOUNT = "discount"  # percent off
    RED_PACKET = "red_packet"
    GIFT = "gift"
    POINTS = "points"
    PRIVILEGE = "privilege"  # non-monetary: priority booking, advisor, member-only product
    TRIAL = "trial"  # entry product at a fixed price (the 99-yuan trial)


@dataclass(frozen=True, slots=True)
class Effect:
    type: EffectType
    value: float  # yuan, percent, points; 0 for privileges
    description: str


class Period(StrEnum):
    """A calendar period in the pack's time zone: caps reset at its local start."""

    LIFETIME = "lifetime"
    DAY = "day"
    WEEK = "week"  # ISO week, Monday to Sunday
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Budget:
    """限量: caps enforced atomically in Redis when an offer is granted.

    ``per_customer`` counts within ``customer_period`` (lifetime unless set);
    ``per_day`` / ``per_week`` / ``per_month`` cap every customer together.
    """

    total: int | None = None
    per_customer: int | None = None
    per_day: int | None = None
    per_week: int | None = None
    per_month: int | None = None
    customer_period: Period = Period.LIFETIME

    @property
    def unlimited(self) -> bool:
        return all(v is None for v in (self.total, self.per_customer, self.per_day, self.per_week, self.per_month))


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """限时: absolute start/end and optional daily hours, in the pack's time zone."""

    starts: datetime | None = None
    ends: datetime | None = None
    daily_from: time | None = None
    daily_to: time | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """A reward held until an outcome (the invitee's or beneficiary's first paid order), else voided."""

    release_on: str  # outcome event type, e.g. order_paid
    void_after_days: int  # rounded up, for reports
    void_after_seconds: int = 0  # exact; 0 = void_after_days days
    # > 0 (release_on order_paid only): the paid order starts a return window; the hold is
    # released when it passes without a refund, voided by a refund within it (刷单)
    return_window_seconds: int = 0

    @property
    def seconds(self) -> int:
        return self.void_after_seconds or self.void_after_days * 86400


@dataclass(frozen=True, slots=True)
class Reservation:
    """Reversible budget: a unit reserved at checkout, committed by a paid order.

    Released back to the budget and the customer's cap by a ``release_on`` outcome
    (cancel, refund -- also after commit) or when not committed within ``ttl_seconds``.
    """

    ttl_seconds: int
    commit_on: str
    release_on: frozenset[str]


@dataclass(frozen=True, slots=True)
class Variant:
    """One arm of an A/B experiment: its share of customers and its own effect."""

    id: str
    weight: int
    effect: Effect


@dataclass(frozen=True, slots=True)
class Experiment:
    """Sticky A/B split of an offer's customers (hash of experiment id and customer)."""

    id: str
    variants: tuple[Variant, ...]

    def assign(self, customer: str) -> Variant:
        """The customer's variant: the same on every call, every worker, every reload."""
        import hashlib

        digest = hashlib.sha256(f"{self.id}\x00{customer}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") % sum(v.weight for v in self.variants)
        for variant in self.variants:
            if point < variant.weight:
                return variant
            point -= variant.weight
        return self.variants[-1]


@dataclass(frozen=True, slots=True)
class GroupBuyTerms:
    """拼团: groups of ``size`` members formed within ``deadline_seconds``.

    At the deadline an incomplete group fails (every member's payment is flagged
    for refund) unless ``virtual_min`` is set and reached: then it completes
    virtually (虚拟成团). ``per_customer`` groups a customer may join,
    ``total_groups`` groups that may ever be opened.
    """

    size: int
    deadline_seconds: int
    virtual_min: int | None = None
    per_customer: int | None = None
    total_groups: int | None = None


class StackPolicy(StrEnum):
    """How the eligible offers of one exclusivity group combine."""

    PRIORITY = "priority"  # the highest priority offer only
    BEST_FOR_CUSTOMER = "best_for_customer"  # the largest reduction on this cart
    BEST_FOR_MERCHANT = "best_for_merchant"  # the smallest reduction on this cart
    STACK_ALL = "stack_all"  # every eligible offer, combined value capped at max_value


@dataclass(frozen=True, slots=True)
class OfferGroup:
    id: str
    policy: StackPolicy
    max_value: float | None = None  # stack_all: cap on the combined yuan value


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    label: str
    tiers: frozenset[str]
    on: frozenset[str]
    condition: Node | None
    effect: Effect
    priority: int
    exclusive_group: str | None
    window: TimeWindow | None
    budget: Budget
    withhold_on: frozenset[Decision]  # risk gating
    hold: Hold | None
    beneficiary: str  # customer | referrer: who receives it (a referral reward goes to the referrer)
    location: Location
    reserve: Reservation | None = None
    experiment: Experiment | None = None
    group_buy: GroupBuyTerms | None = None
    value_yuan: float | None = None  # declared worth of one grant to the merchant (dashboard); None: priced

    def recipient(self, customer: str, referrer: str | None) -> str | None:
        """Who receives this offer on an event of ``customer`` (invited by ``referrer``); None: nobody."""
        return referrer if self.beneficiary == "referrer" else customer


@dataclass(frozen=True, slots=True)
class ContactCap:
    """At most ``limit`` contacts on ``channel`` per ``period_seconds`` (sliding)."""

    channel: str
    limit: int
    period_seconds: int
    tiers: frozenset[str]  # empty = every tier


@dataclass(frozen=True, slots=True)
class ContactPolicy:
    caps: tuple[ContactCap, ...] = ()
    quiet_from: time | None = None
    quiet_to: time | None = None
    platform_monthly: int | None = None  # WeCom group messages per month (None: as many as the month has days)


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    review_at: int
    deny_at: int
    withhold_offers_on: frozenset[Decision]
    fail_modes: Mapping[str, FailMode]  # event type -> mode; default below
    default_fail_mode: FailMode = FailMode.OPEN

    def fail_mode(self, event_type: str) -> FailMode:
        return self.fail_modes.get(event_type, self.default_fail_mode)


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    """The pack's ``review:``: a case's deadline, what its timeout decides, what a denial lists."""

    sla_seconds: int = 4 * 3600
    on_timeout: str = "keep"  # deny | approve | keep
    deny_block: tuple[str, ...] = ("customer",)  # entities of the case's customer blocked on deny
    deny_watch: tuple[str, ...] = ()  # and watched (the fraud label already watches devices, phones, addresses)
    lease_seconds: int = 900


@dataclass(frozen=True, slots=True)
class ClawbackPolicy:
    """The pack's ``clawback:``: which late evidence re-examines grants, how far back, who is told."""

    on: frozenset[str] = frozenset()  # fraud_label | chargeback | refund_released | case_denied | linked_at_checkout
    # | denied_at_checkout
    window_seconds: int = 30 * 86400
    webhook: str | None = None
    linked: str = "watch"  # what happens to a customer linked at checkout: watch | case | none


@dataclass(frozen=True, slots=True)
class SeedListEntry:
    """A block/allow/watch entry seeded from YAML into the live lists."""

    entity: str
    value: str
    kind: str
    reason: str
    expires: datetime | None


@dataclass(frozen=True, slots=True)
class TestStep:
    event: Mapping[str, Any]
    features: Mapping[str, Any]
    expect: Mapping[str, Any] | None
    location: Location


@dataclass(frozen=True, slots=True)
class TestCase:
    name: str
    steps: tuple[TestStep, ...]
    location: Location


@dataclass(frozen=True, slots=True)
class ScenarioStep:
    """One step of a stateful scenario: its kind, its body, what must hold after it."""

    kind: str  # score | outcome | contact | open_group | join_group | list | customer | advance
    body: Any
    expect: Mapping[str, Any]
    location: Location


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    start: datetime
    customer: str
    steps: tuple[ScenarioStep, ...]
    location: Location


@dataclass(frozen=True, slots=True)
class CompiledRuleSet:
    """Immutable; ``version`` is a hash of the pack's content."""

    version: str
    name: str
    timezone: str
    rules: tuple[Rule, ...]
    tiers: tuple[Tier, ...]
    offers: tuple[Offer, ...]
    features: Mapping[str, FeatureSpec]  # only those some non-off condition reads
    attributes: Mapping[str, Type]  # attr.<name> -> declared type
    lists: Mapping[str, frozenset[str | int | float]]
    decision: DecisionPolicy
    contacts: ContactPolicy
    seed_lists: tuple[SeedListEntry, ...]
    tests: tuple[TestCase, ...]
    predicates: tuple[Predicate, ...]
    feature_plan: Mapping[str, tuple[FeatureSpec, ...]]  # event type -> features to read
    record_plan: Mapping[str, tuple[FeatureSpec, ...]]  # every event type -> reads first, then what it feeds
    files: tuple[str, ...]
    all_rules: tuple[Rule, ...] = ()  # including off and expired ones, for /v1/rules
    offer_groups: Mapping[str, OfferGroup] = field(default_factory=dict)  # declared stacking policies
    automation: Automation = field(default_factory=Automation)  # journeys, community rules, webhooks
    phone_region: str = "CN"  # phones without a country code are read in this region (engine/phones.py)
    service_area: frozenset[str] | None = None  # pack.service_area, when a condition reads phone/ip.outside_area
    area_policy: AreaPolicy | None = None  # declared + learned from payers (engine/area), when a condition reads it
    reads_hosting: bool = False  # a condition reads ip.hosting (engine/facts.py looks the network up only then)
    scenarios: tuple[Scenario, ...] = ()  # stateful sequences, run by yutang test (engine/compile/scenarios.py)
    declared_features: tuple[str, ...] = ()  # every feature the pack declares (``features`` keeps those read)
    review: ReviewPolicy = field(default_factory=ReviewPolicy)  # the review queue (engine/cases)
    clawback: ClawbackPolicy = field(default_factory=ClawbackPolicy)  # late evidence (engine/offers/clawbacks.py)

    @property
    def shadow_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.mode is Mode.SHADOW)
