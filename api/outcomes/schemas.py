"""Schemas of ``POST /v1/events`` (outcomes: paid orders, refunds, chargebacks, labels)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class HoldChangeOut(BaseModel):
    hold_id: str
    offer: str
    status: str = Field(description="released | voided | expired")
    reason: str
    invitee: str
    beneficiary: str


class ListChangeOut(BaseModel):
    entity: str
    kind: str
    action: str = Field(description="added | removed")
    hint: str = Field(
        "", description="which value: as given (customer, device), or whose it is (a phone or address the store knows)"
    )


class ReservationChangeOut(BaseModel):
    reservation_id: str
    offer: str
    status: str = Field(description="committed | cancelled | refunded | lapsed")
    reason: str


class OutcomeResponse(BaseModel):
    event_id: str
    type: str
    holds: list[HoldChangeOut] = Field(description="held referral rewards this outcome released or voided")
    lists: list[ListChangeOut] = Field(
        description="list entries a label or chargeback changed: a fraud label blocks the customer and watches its "
        "device and the devices, phones and addresses the store has seen it use"
    )
    reservations: list[ReservationChangeOut] = Field(
        default_factory=list, description="checkout reservations this outcome committed or released"
    )
    experiments: list[str] = Field(
        default_factory=list, description="'<experiment>:<variant>' conversions this paid order counted"
    )
    late_evidence: dict[str, Any] | None = Field(
        None,
        description="what the pack's clawback section did on this evidence: cause, links found at checkout, holds "
        "voided, reservations cancelled, rewards marked for clawback, watch or case (docs/review.md)",
    )
