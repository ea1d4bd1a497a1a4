"""Schemas of the rule administration endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

FileName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]+\.ya?ml$")]


class PackFiles(BaseModel):
    """A rule pack uploaded as text: ``{files: {"rules/pack.yaml": "..."}}``."""

    model_config = ConfigDict(extra="forbid")

    files: dict[FileName, str] = Field(min_length=1, max_length=200)


class ReloadRequest(BaseModel):
    """Reload the caller's tenant from the rules directory (no body) or from its uploaded pack.

    The files are the tenant's own pack: layered on the base pack, or alone when they
    declare ``pack:`` (engine/pack/layering.py).
    """

    model_config = ConfigDict(extra="forbid")

    files: dict[FileName, str] | None = Field(default=None, min_length=1, max_length=200)


class Diagnostic(BaseModel):
    file: str
    line: int
    col: int
    code: str
    severity: str
    message: str


class ValidateResponse(BaseModel):
    ok: bool
    version: str | None
    counts: dict[str, int] | None
    diagnostics: list[Diagnostic]


class ReloadResponse(BaseModel):
    tenant: str
    version: str
    previous: str | None
    changed: bool
    warnings: list[Diagnostic]


class RuleSummary(BaseModel):
    id: str
    code: int
    mode: str
    on: list[str]
    score: int
    decision: str | None
    expires: str | None


class RulesResponse(BaseModel):
    tenant: str
    own_pack: bool  # False: the tenant runs the platform's base pack
    version: str
    name: str
    timezone: str
    backend: str
    kept_versions: list[str]
    counts: dict[str, int]
    shadow_rules: list[str]
    rules: list[RuleSummary]
    offers: list[dict[str, Any]]
