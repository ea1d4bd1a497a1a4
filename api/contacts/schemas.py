"""Schemas of ``POST /v1/contacts``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from engine.events import ID_PATTERN, Moment


class ContactRequest(BaseModel):
    """May staff message ``customer`` on ``channel`` now? Recorded when allowed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    customer: Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]
    channel: Annotated[
        str,
        Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$", description="e.g. group_message, private_message"),
    ]
    tier: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="default: the customer's tier computed now"
    )
    at: Moment | None = Field(default=None, description="default: now")


class ContactResponse(BaseModel):
    allowed: bool
    customer: str
    channel: str
    tier: str
    reason: str = Field(description="why refused (a cap or quiet hours), or 'ok'")
    next_allowed_at: datetime | None
