"""Typed events and answers of the client.

The events are the client's own (plain strings: the server reads phones in the pack's
region, so normalizing here could disagree with it); the answers are the server's
response schemas, plus what only the client knows: whether the answer replays an
earlier one and whether it is the caller's fallback.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.outcomes.schemas import OutcomeResponse
from api.scoring.schemas import ScoreResponse

Decision = Literal["allow", "review", "deny"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # set before the first attempt, so every retry is the same event
    event_id: str = Field(default_factory=lambda: f"evt-{uuid.uuid4().hex}")
    timestamp: datetime = Field(default_factory=lambda: datetime.now(UTC))
    type: str
    customer: str
    device: str | None = None
    ip: str | None = None
    phone: str | None = None
    email: str | None = None
    referrer: str | None = None
    group: str | None = None
    campaign: str | None = None
    coupon: str | None = None
    address: str | None = None
    amount: float | None = None
    attributes: dict[str, str | int | float | bool] = Field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


class ScoreEvent(_Event):
    """An event to score: signup, referral, coupon_claim, group_buy_join, red_packet_claim, order."""


class OutcomeEvent(_Event):
    """An outcome to record: order_paid, refund, chargeback, label, ..."""

    label: Literal["fraud", "legit"] | None = None


class ScoreAnswer(ScoreResponse):
    replayed: bool = Field(False, description="yutang answered this event before: the same answer again")
    fallback: bool = Field(False, description="yutang was unreachable: the caller's declared on_unreachable decision")


class OutcomeAnswer(OutcomeResponse):
    replayed: bool = False


def fallback_answer(event: ScoreEvent, decision: Decision, why: str) -> ScoreAnswer:
    """The caller's fail-open / fail-closed decision, marked so nobody takes it for yutang's."""
    return ScoreAnswer.model_validate(
        {"event_id": event.event_id, "decision": decision, "score": 0, "reasons": [], "tier": "unknown",
         "tier_label": "", "offers": [], "withheld": [], "shadow": [], "shadow_decision": decision,
         "ruleset_version": "", "degraded": True, "degraded_reason": f"yutang unreachable: {why}", "fallback": True}
    )  # fmt: skip
