"""The answer of GET /v1/customers/{id}: everything the store knows and did about one customer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ListEntryOut(BaseModel):
    kind: str
    reason: str
    author: str
    expires_at: datetime | None


class CustomerOfferOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    offer: str
    event_id: str
    status: str = Field(description="granted, held, released, voided, expired, reserved, committed, clawback...")
    at: Any
    hold_id: str | None = None
    void_at: Any = None


class CustomerView(BaseModel):
    model_config = ConfigDict(extra="allow")

    customer: str
    tier: str
    tier_label: str
    features: dict[str, Any]
    lists: list[ListEntryOut]
    tags: list[str] = Field(description="set by journeys' tag actions")
    recent_decisions: list[dict[str, Any]]
    offers: list[CustomerOfferOut]
    contacts: list[dict[str, Any]]
    clawbacks: list[dict[str, Any]] = Field(description="rewards out already that the storefront should reverse")
    late_evidence: list[dict[str, Any]]
    wecom_contacts: list[dict[str, Any]] = Field(description="the staff members it added on WeCom, and their standing")
    journeys: list[dict[str, Any]]
