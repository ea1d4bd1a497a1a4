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
    """Reload the rules directory (no body) or swap in uploaded files."""

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
    version: str
    name: str
    timezone: str
    backend: str
    kept_versions: list[str]
    counts: dict[str, int]
    shadow_rules: list[str]
    rules: list[RuleSummary]
    offers: list[dict[str, Any]]
