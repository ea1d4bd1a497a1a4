"""Pydantic models of each rule-pack section: the shape of the YAML, nothing more.

Meaning (names resolve, tiers exist, windows parse) is checked by the compiler.
Each item is validated on its own so one bad rule never hides the next one's errors.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.features.spec import Entity, GroupMetric, LinkMetric, ListKind, ReferralMetric, TimeUnit, kind_fits
from engine.model import Decision, EffectType, FailMode, Mode, Period, StackPolicy
from engine.numbers import Float, Int

Id = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
FeatureName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", max_length=96)]
Scalar = str | int | float


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackMeta(_Section):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    timezone: str = "Asia/Shanghai"
    phone_region: str = "CN"  # ISO 3166 region a phone without a country code is read in (engine/phones.py)
    service_area: list[str] = Field(
        default_factory=list,
        description="provinces the merchant serves (上海, 江苏...): referral outside_share counts the others",
    )
    service_area_learned: bool = Field(
        True,
        description="also count as inside a province that holds 10%+ of the store's paying customers (20+ counted)",
    )
    description: str = ""


class ReasonText(_Section):
    zh: Annotated[str, Field(min_length=1, max_length=200)]
    en: Annotated[str, Field(min_length=1, max_length=200)]


class RuleItem(_Section):
    id: Id
    code: Annotated[Int, Field(ge=1, le=999_999)]
    on: Annotated[list[str], Field(min_length=1)]
    when: Annotated[str, Field(min_length=1)]
    score: Annotated[Int, Field(ge=-100, le=100)]
    decision: Decision | None = None
    reason: ReasonText
    mode: Mode = Mode.ACTIVE
    expires: date | None = None
    description: str = ""


class RuleOverrideItem(_Section):
    """A tenant pack's change to a base rule of the same id (``override: true``): the fields given replace the base's.

    Only what a merchant tunes: its score, mode (``off`` switches it off), decision,
    condition (its thresholds), expiry and wording. ``on`` and ``code`` stay the base's,
    so reasons and hit reports keep meaning the same rule (engine/pack/layering.py).
    """

    id: Id
    override: Literal[True]
    score: Annotated[Int, Field(ge=-100, le=100)] | None = None
    mode: Mode | None = None
    decision: Decision | None = None
    when: Annotated[str, Field(min_length=1)] | None = None
    expires: date | None = None
    reason: ReasonText | None = None
    description: str | None = None


class TierItem(_Section):
    id: Id
    label: str = ""
    when: str | None = None
    default: bool = False
    description: str = ""

    @model_validator(mode="after")
    def _when_or_default(self) -> TierItem:
        if self.default == (self.when is not None):
            raise ValueError("a tier has either 'when' or 'default: true' (exactly one)")
        return self


class EffectItem(_Section):
    type: EffectType
    value: Annotated[Float, Field(ge=0, le=1_000_000)] = 0
    description: str = ""


class OfferWindowItem(_Section):
    starts: datetime | None = None
    ends: datetime | None = None
    daily: Annotated[str, Field(pattern=r"^\d\d:\d\d-\d\d:\d\d$")] | None = None


class BudgetItem(_Section):
    total: Annotated[Int, Field(ge=1)] | None = None
    per_customer: Annotated[Int, Field(ge=1)] | None = None
    per_day: Annotated[Int, Field(ge=1)] | None = None
    per_week: Annotated[Int, Field(ge=1)] | None = None
    per_month: Annotated[Int, Field(ge=1)] | None = None
    customer_period: Annotated[
        Period, Field(description="per_customer counts per local day, week or month instead of for ever")
    ] = Period.LIFETIME


class ReserveItem(_Section):
    """Reserve at checkout, commit on the paid order, release on cancel/refund or after ``ttl``."""

    ttl: str = "30m"
    commit_on: str = "order_paid"
    release_on: list[str] = Field(default_factory=lambda: ["order_cancelled", "refund"])


class VariantItem(_Section):
    id: Id
    weight: Annotated[Int, Field(ge=1, le=1000)] = 1
    effect: EffectItem | None = None  # None: the offer's own effect (the control)


class ExperimentItem(_Section):
    id: Id
    variants: Annotated[list[VariantItem], Field(min_length=2, max_length=10)]


class GroupBuyItem(_Section):
    size: Annotated[Int, Field(ge=2, le=100)]
    within: str = "24h"
    virtual_min: Annotated[Int, Field(ge=1, le=100)] | None = Field(
        None, description="虚拟成团: a group with at least this many members completes at the deadline"
    )
    per_customer: Annotated[Int, Field(ge=1)] | None = None
    total_groups: Annotated[Int, Field(ge=1)] | None = None


class OfferGroupItem(_Section):
    """Stacking policy of one exclusivity group (offers name it with ``group:``)."""

    policy: StackPolicy = StackPolicy.PRIORITY
    max_value: Annotated[Float, Field(gt=0)] | None = Field(None, description="stack_all: cap on the combined value")
    description: str = ""


class HoldItem(_Section):
    """Held until an outcome of the beneficiary's (or, on a referral, the invitee's), else voided.

    ``until`` / ``void_after`` (a duration) are the names to write; ``release_on`` /
    ``void_after_days`` are the older spelling of the same terms.
    """

    until: str | None = Field(None, description="outcome type that releases the hold, e.g. order_paid")
    void_after: str | None = Field(None, description="voided when not released within this duration, e.g. 7d")
    return_window: str | None = Field(
        None,
        description="until: order_paid only: released when the paid order passes this long without a refund "
        "(a refund within it voids the hold), e.g. 7d",
    )
    release_on: str | None = None
    void_after_days: Annotated[Int, Field(ge=1, le=365)] | None = None


class OfferItem(_Section):
    id: Id
    label: str = ""
    tiers: Annotated[list[str], Field(min_length=1)]
    on: list[str] = Field(default_factory=list)
    when: str | None = None
    effect: EffectItem
    priority: Int = 0
    group: Id | None = None
    window: OfferWindowItem | None = None
    budget: BudgetItem = BudgetItem()
    withhold_on: list[Decision] | None = None
    hold: HoldItem | None = None
    beneficiary: Literal["customer", "referrer"] = "customer"
    reserve: ReserveItem | None = None
    experiment: ExperimentItem | None = None
    group_buy: GroupBuyItem | None = None
    value_yuan: Annotated[Float, Field(ge=0, le=1_000_000)] | None = Field(
        None,
        description="what one grant is worth, in yuan (the protection dashboard's value); "
        "default: the effect priced on the event's cart",
    )
    description: str = ""


class FeatureItem(_Section):
    """Exactly one aggregate key (count, sum, distinct, cadence, first_seen, last_seen, referral, group, link)."""

    count: list[str] | str | None = None
    sum: str | None = None
    distinct: str | None = None
    cadence: str | None = Field(
        None,
        description="the longest machine-regular run of this entity's sightings ending at the event "
        "(a script's clock: docs/features.md, 'Cadence')",
    )
    first_seen: bool | None = None
    last_seen: bool | None = None
    referral: ReferralMetric | None = None
    group: GroupMetric | None = None
    link: LinkMetric | None = None
    by: str | None = None
    on: list[str] | None = None
    window: str | None = None
    within: str | None = None
    older_than: str | None = Field(
        None, description="referral invitees / paid_share: only invitees referred at least this long ago (e.g. 3d)"
    )
    count_refunded: bool = Field(
        False,
        description="referral paid_share: an invitee whose payments were all refunded still counts as paid "
        "(how fast invitees paid, not whether they stayed customers)",
    )
    hops: Annotated[Int, Field(ge=2, le=8)] = 4
    approx: bool = False
    exact: bool = Field(
        False, description="count / sum: an exact sliding window (a sorted set of events), not 1/24-window buckets"
    )
    unit: TimeUnit = TimeUnit.SECONDS
    via: list[str] | None = Field(
        None, description="link: the strong identities that link customers (default device, phone, address, payment)"
    )
    weak: dict[str, str] | None = Field(
        None, description="link: weak identities and their short windows, e.g. {ip: 1h}; they link only on the event"
    )
    fanout: Annotated[Int, Field(ge=2, le=64)] | None = Field(
        None, description="link: an identity used by more customers than this in the window is a hub (default 8)"
    )
    description: str = ""

    @model_validator(mode="after")
    def _one_aggregate(self) -> FeatureItem:
        chosen = [k for k in AGGREGATE_KEYS if getattr(self, k) not in (None, False)]
        if len(chosen) != 1:
            raise ValueError(f"a feature needs exactly one of {', '.join(AGGREGATE_KEYS)}; found {chosen or 'none'}")
        return self

    @property
    def aggregate_key(self) -> str:
        return next(k for k in AGGREGATE_KEYS if getattr(self, k) not in (None, False))


AGGREGATE_KEYS = ("count", "sum", "distinct", "cadence", "first_seen", "last_seen", "referral", "group", "link")


class DecisionItem(_Section):
    review_at: Annotated[Int, Field(ge=1, le=100)]
    deny_at: Annotated[Int, Field(ge=1, le=100)]
    withhold_offers_on: list[Decision] = Field(default_factory=lambda: [Decision.REVIEW, Decision.DENY])
    fail_mode: dict[str, FailMode] = Field(default_factory=dict)


class CapItem(_Section):
    channel: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    limit: Annotated[Int, Field(ge=1, le=10_000)]
    per: str
    tiers: list[str] = Field(default_factory=list)


class ContactsItem(_Section):
    quiet_hours: Annotated[str, Field(pattern=r"^\d\d:\d\d-\d\d:\d\d$")] | None = None
    caps: list[CapItem] = Field(default_factory=list)
    platform_monthly: Annotated[Int, Field(ge=1, le=31)] | None = Field(
        None, description="WeCom group messages per customer or group per month; default: the month's days"
    )


class SeedListItem(_Section):
    entity: Entity
    value: Annotated[str, Field(min_length=1, max_length=256)]
    kind: ListKind
    reason: Annotated[str, Field(min_length=1, max_length=200)]
    expires: datetime | date | None = None

    @model_validator(mode="after")
    def _kind_of_entity(self) -> SeedListItem:
        if not kind_fits(self.kind, self.entity):
            raise ValueError(f"kind {self.kind.value!r} is for devices only (a store's counter device)")
        return self


class CouponBindingItem(_Section):
    """Codes handed out in one WeChat group or one campaign: a redemption from outside is a signal."""

    codes: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(default_factory=list, max_length=10_000)
    prefix: Annotated[str, Field(min_length=2, max_length=64)] | None = Field(
        None, description="every code starting with it, for codes minted per group (P09-)"
    )
    group: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(None, description="the WeChat group id")
    campaign: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> CouponBindingItem:
        if (self.group is None) == (self.campaign is None):
            raise ValueError("a binding names exactly one of 'group' or 'campaign'")
        if not self.codes and self.prefix is None:
            raise ValueError("a binding names 'codes', a 'prefix' or both")
        return self


class ExpectItem(_Section):
    decision: Decision | None = None
    score: Int | Annotated[list[Int], Field(min_length=2, max_length=2)] | None = None
    reasons: list[str] | None = None
    not_reasons: list[str] | None = None
    shadow: list[str] | None = None
    tier: str | None = None
    offers: list[str] | None = None
    beneficiaries: dict[str, Annotated[str, Field(min_length=1, max_length=128)]] | None = Field(
        None, description="offer id -> the customer id who receives it (the event's customer, or its referrer)"
    )


class StepItem(_Section):
    event: dict[str, Any]
    features: dict[str, Any] = Field(default_factory=dict)
    expect: ExpectItem | None = None


class TestItem(_Section):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    steps: Annotated[list[StepItem], Field(min_length=1)]


AttributeType = Literal["number", "string", "bool"]


class ReviewDenyItem(_Section):
    """What a denied case adds to the lists besides the fraud label's own entries."""

    block: list[Entity] = Field(default_factory=lambda: [Entity.CUSTOMER])
    watch: list[Entity] = Field(default_factory=list)


class ReviewItem(_Section):
    """The review queue: how long a case may wait and what happens when nobody decides."""

    sla: str = "4h"
    on_timeout: Literal["deny", "approve", "keep"] = "keep"
    deny: ReviewDenyItem = ReviewDenyItem()
    lease: str = Field("15m", description="how long a reviewer's claim on a case lasts")
    description: str = ""


ClawbackCause = Literal[
    "fraud_label",
    "chargeback",
    "refund_released",
    "case_denied",
    "linked_at_checkout",
    "denied_at_checkout",
    "self_filled_group",
]


class ClawbackItem(_Section):
    """Late evidence: which outcomes re-examine a customer's grants, how far back, who is told."""

    on: Annotated[list[ClawbackCause], Field(min_length=1)]
    window: str = "30d"
    webhook: str | None = Field(None, description="a webhook of the pack announcing every clawback")
    linked: Literal["watch", "case", "none"] = "watch"
    description: str = ""


# journeys, community rules and webhooks have their own module; imported here so that
# SECTIONS and the loader's "did you mean" field names see them
from engine.pack.automation_schema import (  # noqa: E402
    ActionItem,  # noqa: F401
    ConversionItem,  # noqa: F401
    HealthRuleItem,
    JourneyItem,
    StageItem,  # noqa: F401
    TimeoutItem,  # noqa: F401
    TransitionItem,  # noqa: F401
    WebhookItem,
)
from engine.pack.scenario_schema import ScenarioItem  # noqa: E402

#: section name -> (item model, shape); "list" sections concatenate, "map" merge by key,
#: "single" may appear in one file only.
SECTIONS: dict[str, tuple[type[BaseModel] | None, str]] = {
    "pack": (PackMeta, "single"),
    "decision": (DecisionItem, "single"),
    "contacts": (ContactsItem, "single"),
    "attributes": (None, "map"),
    "lists": (None, "map"),
    "features": (FeatureItem, "map"),
    "seed_lists": (SeedListItem, "list"),
    "coupon_bindings": (CouponBindingItem, "list"),
    "tiers": (TierItem, "list"),
    "rules": (RuleItem, "list"),
    "offers": (OfferItem, "list"),
    "offer_groups": (OfferGroupItem, "map"),
    "tests": (TestItem, "list"),
    "journeys": (JourneyItem, "list"),
    "community": (HealthRuleItem, "list"),
    "webhooks": (WebhookItem, "map"),
    "review": (ReviewItem, "single"),
    "clawback": (ClawbackItem, "single"),
    "scenarios": (ScenarioItem, "list"),
}
