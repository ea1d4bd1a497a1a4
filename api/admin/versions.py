"""Kept rule set versions, rollback, the pack by file, and the rule hit / shadow reports.

Beside ``api/admin/router.py`` (validate, reload): these are the safe-rollout half of
rule administration. A rollback swaps in a kept set without compiling and is
published like a reload, so every worker converges on it (:mod:`api.rulesets`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api import audit
from api.admin.rule_stats import rule_report
from api.audit import Action
from api.audit.diff import rules_diff
from api.deps import ReaderCaller, RulesCaller, RuntimeDep
from api.errors import NotFound
from api.runtime import Runtime
from engine.rule_engine import LoadedRuleSet

router = APIRouter(prefix="/v1/rules", tags=["rules"])


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=128)


@router.get("/versions", summary="Kept versions (oldest first, the running one last) and the watcher's state")
async def versions(runtime: RuntimeDep, caller: ReaderCaller) -> dict[str, Any]:
    current = runtime.rulesets.current.ruleset.version
    watcher = runtime.watcher
    return {
        "current": current,
        "versions": [_summary(loaded, current) for loaded in runtime.rulesets.engine.kept()],
        "watch": {
            "enabled": watcher is not None,
            "path": str(runtime.settings.rules_path),
            "refused": watcher.failure if watcher else None,
        },
    }


@router.post(
    "/rollback",
    summary="Make a kept version the running one again, on every worker",
    responses={404: {"description": "the version is not among the kept ones"}},
)
async def rollback(body: RollbackRequest, runtime: RuntimeDep, caller: RulesCaller) -> dict[str, Any]:
    kept = runtime.rulesets.engine.versions()
    if body.version not in kept:
        raise NotFound(f"version {body.version} is not kept; kept versions: {', '.join(kept)}", extra={"kept": kept})
    before = runtime.rulesets.current
    previous = before.ruleset.version
    loaded = await runtime.rulesets.rollback(body.version)
    await audit.record(
        runtime, caller, Action.RULES_ROLLBACK, target=body.version, before=previous, after=loaded.ruleset.version,
        diff=rules_diff(before, loaded),
    )  # fmt: skip
    return {"version": loaded.ruleset.version, "previous": previous, "changed": previous != body.version}


@router.get("/files", summary="The running pack file by file (text, rules, diagnostics) and its tiers")
async def files(runtime: RuntimeDep, caller: RulesCaller) -> dict[str, Any]:
    loaded = runtime.rulesets.current
    tiers = [{"id": t.id, "label": t.label, "default": t.condition is None} for t in loaded.ruleset.tiers]
    return {"version": loaded.ruleset.version, "files": pack_files(loaded), "tiers": tiers}


@router.get("/hits", summary="Hits per rule of the running version for this tenant, and the shadow report")
async def hits(runtime: RuntimeDep, caller: ReaderCaller) -> dict[str, Any]:
    return await report(runtime, caller.tenant)


@router.get("/shadow", summary="What each shadow rule would have changed: events whose decision would differ")
async def shadow(runtime: RuntimeDep, caller: ReaderCaller) -> dict[str, Any]:
    full = await report(runtime, caller.tenant)
    return {"version": full["version"], "events": full["events"], **full["shadow"]}


async def report(runtime: Runtime, tenant: str) -> dict[str, Any]:
    ruleset = runtime.rulesets.current.ruleset
    stats = runtime.observer.stats
    counts = await runtime.guard.call(
        "rule_stats", stats.read(runtime.services.client, tenant=tenant, version=ruleset.version)
    )
    return rule_report(ruleset, counts)


def pack_files(loaded: LoadedRuleSet) -> list[dict[str, Any]]:
    """Each file's text with the rules declared in it and its diagnostics (warnings: it compiled)."""
    rules: defaultdict[str, list[str]] = defaultdict(list)
    for rule in loaded.ruleset.all_rules or loaded.ruleset.rules:
        rules[rule.location.file].append(rule.id)
    diagnostics: defaultdict[str, list[dict[str, object]]] = defaultdict(list)
    for diagnostic in loaded.diagnostics:
        diagnostics[diagnostic.location.file].append(diagnostic.as_dict())
    return [
        {"name": name, "text": text, "rules": rules[name], "diagnostics": diagnostics[name]}
        for name, text in sorted(loaded.files.items())
    ]


def _summary(loaded: LoadedRuleSet, current: str) -> dict[str, Any]:
    ruleset = loaded.ruleset
    return {
        "version": ruleset.version,
        "name": ruleset.name,
        "running": ruleset.version == current,
        "rules": len(ruleset.rules),
        "shadow_rules": [r.id for r in ruleset.shadow_rules],
        "files": sorted(loaded.files),
        "warnings": len(loaded.diagnostics),
    }
