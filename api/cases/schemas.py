"""Schemas of the review queue's routes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CaseDecision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    ESCALATE = "escalate"


class CaseState(StrEnum):
    OPEN = "open"
    ESCALATED = "escalated"
    APPROVED = "approved"
    DENIED = "denied"
    UNDECIDED = "undecided"  # open or escalated


class CaseSort(StrEnum):
    AGE = "age"  # oldest first
    SCORE = "score"  # highest first
    VALUE = "value"  # most at stake first


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: CaseDecision
    note: str = Field("", max_length=1000, description="why: kept in the case's audit trail")


class CaseOut(BaseModel):
    """One case as the queue lists it (``GET /v1/cases/{id}`` adds events, stake, links, log)."""

    model_config = ConfigDict(extra="allow")

    id: str
    actor: str = Field(description="whom the case is about: customer:<id> (a linked group later)")
    customer: str
    state: str = Field(description="open | escalated | approved | denied")
    opened_at: str
    deadline: str = Field(description="opening time + the pack's review.sla")
    age_seconds: float
    overdue: bool
    score: int = Field(description="the highest score of its events")
    value_at_stake: float = Field(description="yuan of the offers its events withheld (one per exclusivity group)")
    tier: str
    event_count: int = Field(description="review events joined (the newest 100 are kept)")
    reasons: list[str]
    claimed_by: str | None = None
    lease_until: str | None = None
    decision: str | None = None
    note: str = ""
    decided_at: str | None = None
    decided_by: str | None = None
    decided_role: str | None = None
    decided_via: str | None = Field(None, description="reviewer | timeout")
    result: dict[str, Any] | None = Field(None, description="what the decision did: grants, holds, clawbacks, lists")


class CaseDetailOut(CaseOut):
    events: list[dict[str, Any]] = Field(description="each event: reasons with their values, offers withheld")
    log: list[dict[str, Any]] = Field(description="the audit trail: claims, decisions, timeouts (who, when, note)")
    stake: dict[str, Any] = Field(description="withheld offers, held rewards and their value in yuan")
    linked: dict[str, Any] = Field(
        description="accounts linked to the customer (at checkout), the links, and the kinds of identity it used"
    )
    clawbacks: list[dict[str, Any]]


class CasePageOut(BaseModel):
    cases: list[CaseOut]
    next_cursor: str | None = Field(None, description="pass back as cursor= for the next page; null at the end")


class ClaimOut(BaseModel):
    id: str
    claimed_by: str
    lease_until: str
