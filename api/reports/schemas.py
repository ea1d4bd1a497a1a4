"""Response schemas of the reports: what a generated client parses them into."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EffectOut(BaseModel):
    type: str
    value: float


class OfferBudgetOut(BaseModel):
    offer: str
    label: str
    effect: EffectOut
    group: str | None
    total: int | None = Field(description="the budget; null: unlimited")
    remaining: int | None
    used: int
    today: int
    week: int
    month: int
    granted: int
    held: int
    released: int
    voided: int
    expired: int
    reserved: int
    committed: int
    cancelled: int
    refunded: int
    lapsed: int


class OffersReport(BaseModel):
    ruleset_version: str
    offers: list[OfferBudgetOut]
    used_by_effect_type: dict[str, int]


class VariantResultOut(BaseModel):
    variant: str
    weight: float
    effect: dict[str, Any]
    grants: int
    customers: int
    conversions: int
    conversion_rate: float | None
    revenue: float


class ExperimentOut(BaseModel):
    experiment: str
    offer: str
    variants: list[VariantResultOut]


class ExperimentsReport(BaseModel):
    ruleset_version: str
    experiments: list[ExperimentOut]
