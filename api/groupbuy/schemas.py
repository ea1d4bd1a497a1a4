"""Schemas of ``/v1/groupbuys``: open a group, join it, read it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.events import Event


class OpenRequest(BaseModel):
    """Open a group of a group-buy offer; ``join`` is the leader's ``group_buy_join`` event."""

    model_config = ConfigDict(extra="forbid")

    offer: str = Field(min_length=1, max_length=64, description="an offer of the pack with group_buy terms")
    join: Event


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    join: Event = Field(description="the member's group_buy_join event; it is scored like /v1/score")


class GroupOut(BaseModel):
    group_id: str
    offer: str
    state: str = Field(description="open | completed | virtual (虚拟成团) | failed (payments flagged refund_due)")
    size: int
    deadline: datetime
    leader: str
    members: list[dict[str, Any]]


class JoinResponse(BaseModel):
    outcome: str = Field(description="open | joined | member (already in) | refused")
    reason: str | None = Field(
        None, description="refusals: risk, total_limit, customer_limit, completed, failed, virtual, deadline_passed"
    )
    group: GroupOut | None
    decision: str = Field(description="the risk decision of the join (scored like /v1/score)")
    score: dict[str, Any] = Field(description="the /v1/score answer for the join event")
