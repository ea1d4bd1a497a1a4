"""Request and response schemas of ``POST /v1/score``.

The request body is the engine's own ``Event`` model, so validation lives in one
place for the API, replay and the pack's test cases.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from engine.events import Event as Event  # re-exported: the request schema


class Reason(BaseModel):
    rule: str
    code: int
    text: str = Field(description="why, in the merchant's language (zh)")
    text_en: str
    score: int
    values: dict[str, Any] = Field(description="the values the rule read")


class OfferEffect(BaseModel):
    type: str
    value: float
    description: str


class GrantedOffer(BaseModel):
    offer: str
    label: str
    status: Literal["granted", "held", "reserved"] = Field(
        description="held: pending until the invitee's first paid order; "
        "reserved: set aside at checkout until the order is paid (committed) or cancelled / unpaid (released)"
    )
    beneficiary: str | None = Field(description="who receives it: the customer, or the referrer for a referral reward")
    effect: OfferEffect
    remaining: int | None = Field(description="units of the total budget left after this grant")
    hold_id: str | None = None
    release_on: str | None = None
    void_at: str | None = None
    reservation_id: str | None = None
    expires_at: str | None = Field(None, description="reserved: released by itself if not paid by then")
    variant: str | None = Field(None, description="the customer's A/B variant when the offer is an experiment")
    value: float | None = Field(None, description="worth in yuan on this cart (percent discounts use event.amount)")
    full_value: float | None = Field(None, description="value before a stack_all group's max_value cap")


class WithheldOffer(BaseModel):
    offer: str
    why: str = Field(
        description="risk | window | exclusive | tier | condition (the pack), "
        "exhausted | customer_cap | daily_cap | weekly_cap | monthly_cap | no_beneficiary | too_late (budgets), "
        "degraded (Redis)"
    )
    causes: list[str] | None = Field(
        None, description="when a budget refusal has several causes, all of them, 'why' first (exhausted, customer_cap)"
    )


class ScoreResponse(BaseModel):
    event_id: str
    decision: Literal["allow", "review", "deny"]
    score: int
    reasons: list[Reason]
    tier: str
    tier_label: str
    offers: list[GrantedOffer]
    withheld: list[WithheldOffer]
    shadow: list[Reason]
    shadow_decision: Literal["allow", "review", "deny"]
    ruleset_version: str
    degraded: bool
    degraded_reason: str | None = None
    total_value: float | None = Field(None, description="combined value of the granted offers on this cart")
    explain: list[dict[str, Any]] | None = Field(
        None, description="?explain=true: every offer of the pack, applied or why not (condition, cap, risk, ...)"
    )
    contact: dict[str, Any] | None = Field(None, description="?contact=<channel>: the contact gate's answer")
