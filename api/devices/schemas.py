"""Schemas of the store-device register (``/v1/devices``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.events import Identifier, Moment


class StoreDeviceIn(BaseModel):
    """Register ``device`` as one of the merchant's own counter devices (replacing an earlier registration)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    device: Identifier = Field(description="the device id the mini-program / tablet sends on its events")
    label: Annotated[str, Field(min_length=1, max_length=200)] = Field(description="e.g. 前台iPad, 2号店收银台")
    author: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="default: the API key's id"
    )
    expires_at: Moment | None = Field(default=None, description="ISO 8601; absent = until removed")

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(UTC):
            raise ValueError("expires_at must be in the future")
        return value


class StoreDeviceOut(BaseModel):
    device: str
    label: str
    author: str
    created_at: datetime
    expires_at: datetime | None


class StoreDevicePageOut(BaseModel):
    devices: list[StoreDeviceOut]
    next_cursor: str | None
