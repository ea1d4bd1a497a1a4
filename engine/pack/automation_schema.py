"""Pydantic models of the ``journeys:``, ``community:`` and ``webhooks:`` sections.

Shape only, like ``engine.pack.schema``: stage names, event types, offers, channels
and conditions are resolved by ``engine.compile.journeys``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.model import Mode
from engine.numbers import Int

Id = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
Label = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ActionItem(_Section):
    """Exactly one of: grant an offer, request a contact, tag the customer, call a webhook."""

    offer: Id | None = None
    contact: Label | None = Field(None, description="a channel the pack's contact caps declare")
    tag: Label | None = None
    webhook: Id | None = Field(None, description="a name under webhooks:")

    @model_validator(mode="after")
    def _exactly_one(self) -> ActionItem:
        chosen = [k for k in ACTION_KINDS if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(f"an action is exactly one of {', '.join(ACTION_KINDS)}; found {chosen or 'none'}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ACTION_KINDS if getattr(self, k) is not None)


ACTION_KINDS = ("offer", "contact", "tag", "webhook")


class StageItem(_Section):
    label: str = ""
    description: str = ""


class TransitionItem(_Section):
    from_: Annotated[list[str], Field(alias="from", min_length=1)]
    on: Annotated[list[str], Field(min_length=1)]
    when: str | None = None
    to: str
    actions: list[ActionItem] = Field(default_factory=list)
    description: str = ""


class TimeoutItem(_Section):
    """Fires once per stay in a stage: ``after`` entering it, or once the customer is ``silent``."""

    id: Id
    in_: Annotated[list[str], Field(alias="in", min_length=1)]
    after: str | None = Field(None, description="since the customer entered the stage, e.g. 3d")
    silent: str | None = Field(None, description="since the customer's last event, e.g. 60d")
    when: str | None = None
    to: str | None = None
    actions: list[ActionItem] = Field(default_factory=list)
    description: str = ""

    @model_validator(mode="after")
    def _after_or_silent(self) -> TimeoutItem:
        if (self.after is None) == (self.silent is None):
            raise ValueError("a timeout has either 'after' or 'silent' (exactly one)")
        return self


class ConversionItem(_Section):
    """A KPI: the share of customers who entered ``from`` in a period and ever reached ``to``."""

    id: Id
    from_: Annotated[str, Field(alias="from")]
    to: str
    label: str = ""


class JourneyItem(_Section):
    id: Id
    start: str
    stages: Annotated[dict[str, StageItem | None], Field(min_length=2, max_length=50)]
    transitions: Annotated[list[TransitionItem], Field(min_length=1, max_length=200)]
    timeouts: Annotated[list[TimeoutItem], Field(max_length=50)] = Field(default_factory=list)
    conversions: list[ConversionItem] = Field(default_factory=list)
    mode: Mode = Mode.ACTIVE
    description: str = ""


class WebhookItem(_Section):
    url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=500)]
    secret_env: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")] = Field(
        description="environment variable holding the HMAC-SHA256 key (never the key itself)"
    )
    attempts: Annotated[Int, Field(ge=1, le=20)] = 6
    backoff: str = Field("30s", description="delay before the first retry; doubles after each failure")
    timeout: str = "10s"
    description: str = ""


class HealthRuleItem(_Section):
    """A community rule: on group events, or ``within`` after a red packet was sent."""

    id: Id
    on: list[str] = Field(default_factory=list)
    within: str | None = Field(None, description="checked this long after each red_packet_sent")
    when: str
    signal: Label
    reason: dict[str, str]
    actions: list[ActionItem] = Field(default_factory=list)
    mode: Mode = Mode.ACTIVE
    description: str = ""

    @model_validator(mode="after")
    def _on_or_within(self) -> HealthRuleItem:
        if bool(self.on) == (self.within is not None):
            raise ValueError("a community rule has either 'on' (group event types) or 'within' (exactly one)")
        if set(self.reason) != {"zh", "en"}:
            raise ValueError("reason needs 'zh' and 'en' texts")
        return self
