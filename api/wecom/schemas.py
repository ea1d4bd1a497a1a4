"""The week's WeCom figures, as GET /v1/wecom/report answers them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StaffWeek(BaseModel):
    staff: str
    added: int
    deleted_by_customer: int
    deleted_by_staff: int
    deletion_rate: float | None = Field(description="customers who deleted the staff member per customer added")


class GroupWeek(BaseModel):
    group: str
    joined: int
    left: int
    net: int
    churn: float | None = Field(description="leavers per joiner")
    dismissed: bool


class WecomWeek(BaseModel):
    week: str
    staff: list[StaffWeek]
    groups: list[GroupWeek]
