"""Answers of the versions, files, hits, shadow, rollback, dry-run and replay routes.

Typed at their top level (what a generated client reads by name), open beneath where
the shape follows the pack (diffs, per-rule counters, replay summaries): a field added
there reaches the client instead of being cut off by the schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.scoring.schemas import Reason, WithheldOffer


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class VersionOut(_Open):
    version: str
    running: bool
    in_memory: bool = Field(description="this worker holds it compiled; false: only its record in Redis")
    at: float | None = Field(description="when it was published (epoch seconds)")
    author: str | None = Field(description="the key id that published it")
    source: str | None = Field(description="startup, api, watcher, sidecar or rollback")
    previous: str | None
    counts: dict[str, int] | None


class VersionsOut(BaseModel):
    tenant: str
    own_pack: bool = Field(description="false: the tenant runs the platform's base pack")
    current: str
    versions: list[VersionOut]
    watch: dict[str, Any]


class VersionDiffOut(_Open):
    tenant: str
    from_: str = Field(alias="from")
    to: str
    rules: dict[str, Any] = Field(description="added / removed (id, yaml) and changed (id, before, after)")


class RollbackOut(BaseModel):
    tenant: str
    version: str
    previous: str
    changed: bool


class PackFileOut(BaseModel):
    name: str
    text: str
    rules: list[str]
    diagnostics: list[dict[str, Any]]


class TierOut(BaseModel):
    id: str
    label: str
    default: bool


class RuleFilesOut(BaseModel):
    version: str
    files: list[PackFileOut]
    tiers: list[TierOut]


class RuleHitsOut(BaseModel):
    id: str
    mode: str
    hits: int
    file: str = Field(description="the file it is declared in, relative to the pack")
    line: int
    family: str = Field(description="the file's stem: one abuse family per file in the shipped pack")
    score: int
    decision: str | None
    reason_zh: str
    reason_en: str


class HitsOut(BaseModel):
    version: str
    events: int
    rules: list[RuleHitsOut]
    shadow: dict[str, Any]


class ShadowOut(_Open):
    version: str
    events: int
    events_changed: int
    share_changed: float | None
    transitions: list[dict[str, Any]]
    rules: list[dict[str, Any]]


class DryRunOut(_Open):
    event_id: str
    decision: str
    score: int
    reasons: list[Reason]
    tier: str
    tier_label: str
    withheld: list[WithheldOffer]
    shadow: list[Reason]
    ruleset_version: str
    dry_run: bool
    lists_read: bool = Field(
        description="whether the live block / allow / watch lists were read: only for a key that may read lists "
        "(admin); for others their flags are missing (null) and no rule reading them fires"
    )
    features: dict[str, Any]
    eligible_offers: list[dict[str, Any]]


class ReplayOut(_Open):
    ruleset_version: str
    baseline_version: str | None
