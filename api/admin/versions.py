"""Kept rule set versions, rollback, the pack by file, and the rule hit / shadow reports.

Beside ``api/admin/router.py`` (validate, reload): these are the safe-rollout half of
rule administration. A rollback swaps in a kept set without compiling and is
published like a reload, so every worker converges on it (:mod:`api.rulesets`).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from api import audit
from api.admin.answers import HitsOut, RollbackOut, RuleFilesOut, ShadowOut, VersionDiffOut, VersionsOut
from api.admin.diff import diff
from api.admin.edit_lock import editing
from api.admin.rule_stats import rule_report
from api.admin.sources import PackView, running_view, shown_file
from api.audit import Action
from api.audit.diff import rules_diff
from api.deps import ReaderCaller, RulesCaller, RuntimeDep
from api.errors import NotFound
from api.rule_store import counts
from api.runtime import Runtime
from engine.errors import EngineError
from engine.rule_engine import BASE, LoadedRuleSet

router = APIRouter(prefix="/v1/rules", tags=["rules"])


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=128)


@router.get(
    "/versions",
    response_model=VersionsOut,
    summary="The tenant's kept versions (oldest first, the running one last): when, who, from where",
)
async def versions(runtime: RuntimeDep, caller: ReaderCaller) -> dict[str, Any]:
    tenant = caller.tenant
    rulesets = runtime.rulesets
    current = rulesets.of(tenant).ruleset.version
    watcher = runtime.watcher
    records = {}
    with contextlib.suppress(Exception):  # Redis away: what this worker keeps
        owner = tenant if rulesets.engine.owns(tenant) else BASE
        records = {r.version: r.summary() for r in await rulesets.store.history(owner)}
    here = {loaded.ruleset.version: loaded for loaded in rulesets.engine.kept(tenant)}
    order = [*[v for v in records if v not in here], *here]
    names = {f.key: f.path for loaded in here.values() for f in running_view(rulesets, tenant, loaded).files}
    refused = (watcher.failures.get(tenant) or watcher.failure) if watcher else None
    return {
        "tenant": tenant,
        "own_pack": rulesets.engine.owns(tenant),
        "current": current,
        "versions": [_shown(_summary(v, here.get(v), records.get(v), current), names) for v in order],
        "watch": {
            "enabled": watcher is not None,
            "path": runtime.settings.rules_path.name,  # the folder's name: where it is on the server is not a tenant's
            "refused": None if refused is None else _refused(refused, names),
        },
    }


@router.get(
    "/versions/{a}/diff/{b}",
    response_model=VersionDiffOut,
    summary="What changed from version a to b: rules added, removed, changed (with their YAML), list entries",
    responses={404: {"description": "a version is not among the tenant's kept ones"}},
)
async def version_diff(
    runtime: RuntimeDep,
    caller: ReaderCaller,
    a: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")],
    b: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")],
) -> dict[str, Any]:
    found = {}
    for version in (a, b):
        record = await runtime.rulesets.record(caller.tenant, version)
        if record is None:
            kept = await runtime.rulesets.kept_versions(caller.tenant)
            raise NotFound(
                f"version {version} is not kept for this tenant; kept: {', '.join(kept)}", extra={"kept": kept}
            )
        found[version] = (record.files, record.tenant_files)
    return {"tenant": caller.tenant, "from": a, "to": b, **diff(found[a], found[b])}


@router.post(
    "/rollback",
    response_model=RollbackOut,
    summary="Make a kept version the running one again, on every worker",
    responses={
        404: {"description": "the version is not among the kept ones"},
        409: {"description": "edit_in_progress: another change of the tenant's pack is compiling"},
    },
)
async def rollback(body: RollbackRequest, runtime: RuntimeDep, caller: RulesCaller) -> dict[str, Any]:
    tenant = caller.tenant
    kept = await runtime.rulesets.kept_versions(tenant)
    if body.version not in kept:
        raise NotFound(f"version {body.version} is not kept; kept versions: {', '.join(kept)}", extra={"kept": kept})
    before = runtime.rulesets.of(tenant)
    previous = before.ruleset.version
    try:
        async with editing(runtime, tenant):
            loaded = await runtime.rulesets.rollback(tenant, body.version, author=caller.key_id)
    except EngineError as err:  # dropped from Redis between the check and now
        raise NotFound(str(err), extra={"kept": kept}) from err
    await audit.record(
        runtime, caller, Action.RULES_ROLLBACK, target=body.version, before=previous, after=loaded.ruleset.version,
        diff=rules_diff(before, loaded),
    )  # fmt: skip
    return {
        "tenant": tenant,
        "version": loaded.ruleset.version,
        "previous": previous,
        "changed": previous != body.version,
    }


@router.get(
    "/files",
    response_model=RuleFilesOut,
    summary="The running pack file by file (text, rules, diagnostics) and its tiers",
)
async def files(runtime: RuntimeDep, caller: RulesCaller) -> dict[str, Any]:
    loaded = runtime.rulesets.of(caller.tenant)
    tiers = [{"id": t.id, "label": t.label, "default": t.condition is None} for t in loaded.ruleset.tiers]
    view = running_view(runtime.rulesets, caller.tenant, loaded)
    return {"version": loaded.ruleset.version, "files": pack_files(loaded, view), "tiers": tiers}


@router.get(
    "/hits",
    response_model=HitsOut,
    summary="Hits per rule of the running version for this tenant, and the shadow report",
)
async def hits(runtime: RuntimeDep, caller: ReaderCaller) -> dict[str, Any]:
    return await report(runtime, caller.tenant)


@router.get(
    "/shadow",
    response_model=ShadowOut,
    summary="What each shadow rule would have changed: events whose decision would differ",
)
async def shadow(runtime: RuntimeDep, caller: ReaderCaller) -> dict[str, Any]:
    full = await report(runtime, caller.tenant)
    return {"version": full["version"], "events": full["events"], **full["shadow"]}


async def report(runtime: Runtime, tenant: str) -> dict[str, Any]:
    ruleset = runtime.rulesets.of(tenant).ruleset
    stats = runtime.observer.stats
    counts = await runtime.guard.call(
        "rule_stats", stats.read(runtime.services.client, tenant=tenant, version=ruleset.version)
    )
    return rule_report(ruleset, counts, root=runtime.settings.rules_path)


def pack_files(loaded: LoadedRuleSet, view: PackView) -> list[dict[str, Any]]:
    """Each file's text with the rules declared in it and its diagnostics (warnings: it compiled), by its path
    inside the pack."""
    rules: defaultdict[str, list[str]] = defaultdict(list)
    for rule in loaded.ruleset.all_rules or loaded.ruleset.rules:
        rules[rule.location.file].append(rule.id)
    diagnostics: defaultdict[str, list[dict[str, object]]] = defaultdict(list)
    for diagnostic in loaded.diagnostics:
        diagnostics[diagnostic.location.file].append(view.display(diagnostic))
    names = {f.key: f.path for f in view.files}
    found = [
        {"name": shown_file(key, names), "text": text, "rules": rules[key], "diagnostics": diagnostics[key]}
        for key, text in {**loaded.files, **loaded.tenant_files}.items()
    ]
    return sorted(found, key=lambda f: f["name"])


def _shown(summary: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A version's summary with its files by path inside the pack."""
    for field in ("files", "tenant_files"):
        if summary.get(field) is not None:
            summary[field] = sorted(shown_file(f, names) for f in summary[field])
    return summary


def _refused(refused: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The watcher's refused edit with each diagnostic's file by path inside the pack."""
    return {**refused, "diagnostics": [{**d, "file": shown_file(d["file"], names)} for d in refused["diagnostics"]]}


def _summary(version: str, loaded: LoadedRuleSet | None, record: dict[str, Any] | None, current: str) -> dict[str, Any]:
    """A kept version: what this worker holds of it (if anything) and its record (time, author, source, counts)."""
    found: dict[str, Any] = {"version": version, "running": version == current, "in_memory": loaded is not None}
    found |= {"at": None, "author": None, "source": None, "previous": None, "counts": None}
    if loaded is not None:
        ruleset = loaded.ruleset
        found |= {
            "name": ruleset.name,
            "rules": len(ruleset.rules),
            "shadow_rules": [r.id for r in ruleset.shadow_rules],
            "files": sorted(loaded.files),
            "tenant_files": sorted(loaded.tenant_files),
            "warnings": len(loaded.diagnostics),
            "counts": counts(ruleset),
        }
    if record is not None:
        held = ("files", "tenant_files") if loaded is not None else ()  # a record's history omits the base's files
        recorded = ("at", "author", "source", "previous", "counts", "files", "tenant_files")
        keys = tuple(k for k in recorded if k not in held)
        found |= {k: record[k] for k in keys} | {
            k: record[k] for k in ("name", "rules", "shadow_rules") if k not in found
        }
    return found
