"""JSON Schema of one rule file, so editors (VS Code YAML) complete and underline as marketers type.

Built from the same pydantic section models the loader validates with, so the
schema and the loader cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.pack.automation_schema import HealthRuleItem, JourneyItem, WebhookItem
from engine.pack.scenario_schema import ScenarioItem
from engine.pack.schema import (
    ClawbackItem,
    ContactsItem,
    CouponBindingItem,
    DecisionItem,
    FeatureItem,
    OfferGroupItem,
    OfferItem,
    PackMeta,
    ReviewItem,
    RuleItem,
    RuleOverrideItem,
    SeedListItem,
    TestItem,
    TierItem,
)


class RuleFile(BaseModel):
    """One YAML file of a yutang rule pack; every section is optional."""

    model_config = ConfigDict(extra="forbid", title="yutang rule file")

    pack: PackMeta | None = None
    attributes: dict[str, Literal["number", "string", "bool"]] | None = Field(
        None, description="event attributes readable as attr.<name>"
    )
    lists: dict[str, list[str | float]] | None = Field(None, description="named value lists for `x in lists.<name>`")
    seed_lists: list[SeedListItem] | None = None
    coupon_bindings: list[CouponBindingItem] | None = Field(
        None, description="coupon codes tied to the group or campaign they were given in (coupon.outside_binding)"
    )
    features: dict[str, FeatureItem] | None = Field(
        None, description="'<entity>.<name>': aggregate computed by the feature store"
    )
    tiers: list[TierItem] | None = None
    rules: list[RuleItem | RuleOverrideItem] | None = Field(None, description="rules; in a tenant pack, also overrides")
    offers: list[OfferItem] | None = None
    offer_groups: dict[str, OfferGroupItem] | None = Field(
        None, description="exclusivity group id -> stacking policy (priority, best_for_customer, ...)"
    )
    decision: DecisionItem | None = None
    contacts: ContactsItem | None = None
    tests: list[TestItem] | None = None
    journeys: list[JourneyItem] | None = Field(None, description="stages, transitions, timeouts (docs/journeys.md)")
    community: list[HealthRuleItem] | None = Field(None, description="group health rules (docs/journeys.md)")
    webhooks: dict[str, WebhookItem] | None = Field(None, description="name -> merchant endpoint, HMAC-signed")
    review: ReviewItem | None = Field(None, description="the review queue: SLA, timeout policy (docs/review.md)")
    clawback: ClawbackItem | None = Field(None, description="late evidence: causes, window, webhook (docs/review.md)")
    scenarios: list[ScenarioItem] | None = Field(
        None, description="stateful sequences run by yutang test through the API (docs/rule-pack.md)"
    )


def rule_file_schema() -> dict[str, Any]:
    schema = RuleFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://yutang.dev/schemas/rule-file.json"
    return schema
