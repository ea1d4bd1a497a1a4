"""Schemas of the live block / allow / watch list endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from engine.events import Moment
from engine.features.keys import normalize
from engine.features.spec import Entity, ListKind, kind_fits


class ListEntryIn(BaseModel):
    """Put ``value`` of ``entity`` on the ``kind`` list (replacing an existing entry)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    entity: Entity
    value: Annotated[str, Field(min_length=1, max_length=256)]
    kind: ListKind
    reason: Annotated[str, Field(min_length=1, max_length=200)]
    author: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="default: the API key's id"
    )
    expires_at: Moment | None = Field(default=None, description="ISO 8601; absent = until removed")

    @field_validator("value")
    @classmethod
    def _of_entity(cls, value: str, info: ValidationInfo) -> str:
        """The value in the form events carry (an ip parses, a phone becomes E.164), or 422 naming it."""
        entity = info.data.get("entity")
        return value if entity is None else normalize(entity, value)

    @field_validator("kind")
    @classmethod
    def _kind_of_entity(cls, value: ListKind, info: ValidationInfo) -> ListKind:
        """A store entry is for a device (``/v1/devices`` registers them with a label)."""
        entity = info.data.get("entity")
        if entity is not None and not kind_fits(value, entity):
            raise ValueError(f"kind {value.value!r} is for devices only")
        return value

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        if value <= datetime.now(UTC):
            raise ValueError("expires_at must be in the future")
        return value


class ListEntryOut(BaseModel):
    entity: str
    kind: str
    entry_id: str = Field(description="the id (a keyed hash for personal data) the entry is stored under")
    hint: str = Field(description="the value, masked for personal data")
    reason: str
    author: str
    created_at: datetime
    expires_at: datetime | None


class ListPageOut(BaseModel):
    entries: list[ListEntryOut]
    next_cursor: str | None


class RemovedOut(BaseModel):
    removed: bool
