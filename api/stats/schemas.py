"""The protection report's response model: what the dashboard (and a generated client) reads."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Series(BaseModel):
    """One value per local hour 00..23 of the day."""

    events: list[int]
    allow: list[int]
    review: list[int]
    deny: list[int]
    granted: list[int] = Field(description="rewards granted (held and reserved ones included)")
    granted_value: list[float] = Field(description="their value, yuan")
    withheld: list[int] = Field(description="rewards withheld from flagged actors (review / deny)")
    withheld_value: list[float] = Field(description="their value, yuan: money protected")


class Totals(BaseModel):
    events: int
    allow: int
    review: int
    deny: int
    granted: int
    granted_value: float
    withheld: int
    withheld_value: float


class DayOut(BaseModel):
    day: str = Field(description="local date, YYYY-MM-DD")
    series: Series
    totals: Totals
    totals_so_far: Totals = Field(description="up to the report's hour: today's hours are compared with these")


class RuleHits(BaseModel):
    rule: str
    code: int | None = Field(description="null: the rule is not in the running pack any more")
    text: str
    text_en: str
    hits: int


class FamilyHits(BaseModel):
    family: str = Field(description="the rule's file in the pack (risk/referral.yaml: referral)")
    hits: int
    rules: list[RuleHits]


class OfferOut(BaseModel):
    offer: str
    label: str
    granted: int = Field(description="granted on the day")
    withheld: int = Field(description="withheld from flagged actors on the day")
    total: int | None = Field(description="the budget (限量); null: no cap (∞)")
    used: int = Field(description="units spent so far, net of voids")
    remaining: int | None


class ProtectionReport(BaseModel):
    tenant: str
    day: str
    timezone: str = Field(description="the pack's time zone: a day runs from its local midnight")
    live: bool = Field(description="the day is today: its numbers still grow")
    hour: int = Field(description="hours of the day compared with last week (24 for a past day)")
    ruleset_version: str
    today: DayOut = Field(description="the day asked for")
    last_week: DayOut = Field(description="the same weekday a week before")
    families: list[FamilyHits] = Field(description="reasons by family, most hits first")
    offers: list[OfferOut]
