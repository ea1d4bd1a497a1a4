"""Response schemas of group health, store KPIs and webhook deliveries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class GroupView(BaseModel):
    group: str
    health: dict[str, int] = Field(description="members, joined_7d, left_7d, staff_messages_7d, red-packet shares...")
    signals: list[dict[str, Any]] = Field(description="signals the pack's community rules raised for this group")


class ConversionOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    journey: str
    id: str
    label: str | None
    from_: str = Field(alias="from")
    to: str
    entered: int
    converted: int
    rate: float | None


class KpiReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    period: Literal["day", "week", "month"]
    from_: str = Field(alias="from")
    to: str
    fission_groups: int
    active_groups: int
    new_followers_active: int
    conversions: list[ConversionOut]


class DeliveryOut(BaseModel):
    delivery: str
    webhook: str
    attempt: int
    status: Literal["delivered", "retry", "failed", "refused"]
    detail: str
    at: float
    event: Any = Field(None, description="the event that triggered the webhook, as its body carried it")


class DeliveriesOut(BaseModel):
    deliveries: list[DeliveryOut]
