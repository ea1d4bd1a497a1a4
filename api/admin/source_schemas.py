"""Requests and answers of the one-file routes (api/admin/editing.py): a file's path, its text, what an edit does."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.admin.sources import MAX_PATH, MAX_TEXT, Layer, Mode, PathRefused, check_path


def _path(value: str) -> str:
    try:
        return check_path(value)
    except PathRefused as err:
        raise ValueError(str(err)) from None


PackPath = Annotated[
    str,
    Field(min_length=1, max_length=MAX_PATH, description="the file's path inside the pack, as GET /v1/rules/sources"),
    AfterValidator(_path),
]
FileText = Annotated[str, Field(max_length=MAX_TEXT, description="the file's whole new text (YAML)")]
Version = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]


class SourceEdit(BaseModel):
    """One file's new text, to check against the running pack with that file replaced."""

    model_config = ConfigDict(extra="forbid")

    path: PackPath
    text: FileText
    version: Version | None = Field(
        default=None, description="the running version the edit was made from: the answer says if it is stale"
    )


class SourceSave(BaseModel):
    """One file's new text, to run in place of the file's current text; refused (409) from a stale version."""

    model_config = ConfigDict(extra="forbid")

    path: PackPath
    text: FileText
    version: Version = Field(description="the running version the edit was made from (GET /v1/rules/source)")


class SourceDiagnostic(BaseModel):
    file: str = Field(description="path inside the pack (never the server's)")
    layer: str | None = Field(description="tenant or base: which layer the file is in")
    line: int
    col: int
    code: str
    severity: str
    message: str = Field(description="what is wrong, with a did-you-mean where one is close")


class SourceFileOut(BaseModel):
    path: str
    layer: Layer
    editable: bool = Field(description="false: a base file, read-only for a tenant with a pack of its own")
    bytes: int
    rules: list[str] = Field(description="ids of the rules the file declares")


class SourcesOut(BaseModel):
    tenant: str
    version: str = Field(description="the running version: what an edit names as the version it was made from")
    mode: Mode = Field(description="own: a whole pack of its own; layered: own files on the base; base: the base")
    copy_on_save: bool = Field(description="true (mode base): a save makes the base's files, one edited, the tenant's")
    files: list[SourceFileOut]


class SourceOut(SourceFileOut):
    tenant: str
    version: str
    mode: Mode
    text: str
    diagnostics: list[SourceDiagnostic] = Field(description="the running set's warnings in this file")


class RuleChange(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    fields: list[str] = Field(description="what changed: on, when, score, decision, mode, expires, reason")
    values: dict[str, Any] = Field(description="before and after of each changed field but when")


class RuleChanges(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[RuleChange]


class SourceCheckOut(BaseModel):
    ok: bool = Field(description="the pack compiles with this text: a reload of it would run")
    path: str
    mode: Mode
    running: str = Field(description="the version running now")
    stale: bool = Field(description="the edit was made from another version than the one running")
    version: str | None = Field(description="the version a reload of this text would run")
    counts: dict[str, int] | None
    changes: RuleChanges | None = Field(description="rules added, removed and changed against the running set")
    diagnostics: list[SourceDiagnostic]


class SourceReloadOut(BaseModel):
    tenant: str
    path: str
    version: str
    previous: str
    changed: bool
    mode: Mode = Field(description="the tenant's mode now (a save in mode base makes it own)")
    changes: RuleChanges
    warnings: list[SourceDiagnostic]
