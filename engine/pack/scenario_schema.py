"""Pydantic models of the ``scenarios:`` section: stateful sequences a pack runs on itself.

Shape only, like ``engine.pack.schema``: each step names exactly one kind (``score``,
``outcome``, ``contact``, ``open_group``, ``join_group``, ``list``, ``customer``,
``advance``) and may carry ``expect:``. Offer, rule, tier and journey-stage names are
resolved by ``engine.compile.scenarios``; events are checked like a request's body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.model import Decision

Id = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
Name = Annotated[str, Field(min_length=1, max_length=128)]

#: The kinds of step, in the order the docs give them; exactly one per step.
STEP_KINDS = ("score", "outcome", "contact", "open_group", "join_group", "list", "customer", "advance")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ContactStep(_Section):
    customer: Name
    channel: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    tier: Name | None = None


class OpenGroupStep(_Section):
    offer: Id
    join: dict[str, Any] = Field(default_factory=dict, description="the leader's group_buy_join event")


class ListStep(_Section):
    """Add an entry to, or remove one from, the tenant's live lists (as an admin would)."""

    entity: Name
    value: Name
    kind: Literal["block", "allow", "watch"] = "block"
    remove: bool = False
    reason: Annotated[str, Field(max_length=200)] = "scenario"


class ScenarioExpect(_Section):
    """What must hold after the step; only the fields given are checked."""

    # scored events (score, open_group, join_group read the join's score)
    decision: Decision | None = None
    reasons: list[Id] | None = Field(None, description="rules that must fire (others may too)")
    not_reasons: list[Id] | None = None
    shadow: list[Id] | None = Field(None, description="shadow rules that must fire (others may too)")
    tier: Name | None = None
    offers: list[Id] | None = Field(None, description="exactly these offers granted, held or reserved")
    withheld: dict[Id, str] | None = Field(None, description="offer -> why it was withheld (budgets: every cause)")
    status: dict[Id, str] | None = Field(
        None, description="offer -> granted | held | reserved (a customer step: its latest grant's state, e.g. voided)"
    )
    remaining: dict[Id, int] | None = Field(None, description="offer -> units of its total left (the offers report)")
    # outcomes
    holds: dict[Id, str] | None = Field(None, description="offer -> released | voided ... for holds this outcome moved")
    reservations: dict[Id, str] | None = Field(None, description="offer -> committed | cancelled | refunded")
    # contacts
    allowed: bool | None = None
    reason: str | None = Field(None, description="a contact's or a group-buy join's reason")
    next_allowed_at: str | None = Field(None, description="ISO time; 'none' when no time is given")
    # group-buys
    outcome: str | None = Field(None, description="open | joined | member | refused")
    group_state: str | None = Field(None, description="open | completed | virtual | failed")
    group_size: int | None = Field(None, description="members in the group now")
    # journeys (any step: read from GET /v1/customers/{id} after it)
    journey: dict[Id, Id] | None = Field(None, description="journey -> stage the customer is in")
    tags: list[Name] | None = None


class ScenarioStepItem(_Section):
    score: dict[str, Any] | None = Field(None, description="a scored event (/v1/score)")
    outcome: dict[str, Any] | None = Field(None, description="an outcome (/v1/events)")
    contact: ContactStep | None = None
    open_group: OpenGroupStep | None = None
    join_group: dict[str, Any] | None = Field(None, description="a group_buy_join event for the last opened group")
    list: ListStep | None = None
    customer: Name | None = Field(None, description="read the customer (tier, journeys, tags, offers) to expect on")
    advance: Annotated[str, Field(min_length=1, max_length=16)] | None = Field(
        None, description="move the clock (2h, 3d); due group-buy deadlines, holds and journey timeouts fire"
    )
    expect: ScenarioExpect | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ScenarioStepItem:
        given = [kind for kind in STEP_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(f"a step has exactly one of {', '.join(STEP_KINDS)} (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in STEP_KINDS if getattr(self, kind) is not None)


class ScenarioItem(_Section):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    start: datetime | str | None = Field(
        None, description="ISO time with a zone the clock starts at (default 2026-11-02T10:00+08:00)"
    )
    customer: Name | None = Field(None, description="default customer of the steps' events")
    steps: Annotated[list[ScenarioStepItem], Field(min_length=1, max_length=500)]
