"""Rule administration: what is running, validate an uploaded pack, reload atomically.

Validate and reload compile in a bounded child process (engine/compile/isolated.py)
and stop it when the client disconnects: an abandoned upload costs nothing more.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from api import audit
from api.admin.schemas import PackFiles, ReloadRequest, ReloadResponse, RulesResponse, RuleSummary, ValidateResponse
from api.audit import Action, Source
from api.audit.diff import rules_diff
from api.deps import ReaderCaller, RulesCaller, RuntimeDep
from engine.model import CompiledRuleSet, Mode

router = APIRouter(prefix="/v1/rules", tags=["rules"])


@router.get("", response_model=RulesResponse, summary="The running rule set: version, counts, shadow rules")
async def get_rules(runtime: RuntimeDep, caller: ReaderCaller) -> RulesResponse:
    ruleset = runtime.rulesets.current.ruleset
    return RulesResponse(
        version=ruleset.version,
        name=ruleset.name,
        timezone=ruleset.timezone,
        backend=runtime.rulesets.engine.backend.value,
        kept_versions=runtime.rulesets.engine.versions(),
        counts=counts(ruleset),
        shadow_rules=[r.id for r in ruleset.shadow_rules],
        rules=[_rule(r) for r in (ruleset.all_rules or ruleset.rules)],
        offers=[_offer(o) for o in ruleset.offers],
    )


@router.post(
    "/validate", response_model=ValidateResponse, summary="Diagnostics for an uploaded pack (nothing is loaded)"
)
async def validate(body: PackFiles, request: Request, runtime: RuntimeDep, caller: RulesCaller) -> ValidateResponse:
    policy = runtime.settings.webhook_policy().only(caller.tenant)  # where *this* tenant's webhooks may go
    ruleset, diagnostics = await runtime.rulesets.compile(
        body.files, abandoned=request.is_disconnected, webhook_policy=policy
    )
    return ValidateResponse.model_validate(
        {
            "ok": ruleset is not None,
            "version": ruleset.version if ruleset else None,
            "counts": counts(ruleset) if ruleset else None,
            "diagnostics": [d.as_dict() for d in diagnostics],
        }
    )


@router.post(
    "/reload",
    response_model=ReloadResponse,
    summary="Compile the rules directory (or uploaded files) and swap it in atomically",
    responses={422: {"description": "the pack has errors; the running set stays"}},
)
async def reload(
    request: Request, runtime: RuntimeDep, caller: RulesCaller, body: ReloadRequest | None = None
) -> ReloadResponse:
    before = runtime.rulesets.current if runtime.rulesets.engine.loaded else None
    previous = before.ruleset.version if before else None
    loaded, changed = await runtime.rulesets.reload(body.files if body else None, abandoned=request.is_disconnected)
    await audit.record(
        runtime, caller, Action.RULES_RELOAD, target="upload" if body and body.files else "rules directory",
        before=previous, after=loaded.ruleset.version, diff=rules_diff(before, loaded), source=reload_source(request),
        changed=changed,
    )  # fmt: skip
    warnings = [d.as_dict() for d in loaded.diagnostics]
    return ReloadResponse.model_validate(
        {"version": loaded.ruleset.version, "previous": previous, "changed": changed, "warnings": warnings}
    )


def reload_source(request: Request) -> Source:
    """``sidecar`` when ops/rules_sync.py asked (it says so in X-Yutang-Source), else ``api``.

    Only a label: the entry names the key that asked either way.
    """
    return Source.SIDECAR if request.headers.get("x-yutang-source") == Source.SIDECAR else Source.API


def counts(ruleset: CompiledRuleSet) -> dict[str, int]:
    every = ruleset.all_rules or ruleset.rules
    return {
        "rules": len(every),
        "active": sum(r.mode is Mode.ACTIVE for r in ruleset.rules),
        "shadow": len(ruleset.shadow_rules),
        "not_evaluated": len(every) - len(ruleset.rules),
        "tiers": len(ruleset.tiers),
        "offers": len(ruleset.offers),
        "features": len(ruleset.features),
        "seed_list_entries": len(ruleset.seed_lists),
    }


def _rule(rule: Any) -> RuleSummary:
    return RuleSummary(
        id=rule.id,
        code=rule.code,
        mode=rule.mode.value,
        on=sorted(rule.on),
        score=rule.score,
        decision=rule.decision.value if rule.decision else None,
        expires=rule.expires.isoformat() if rule.expires else None,
    )


def _offer(offer: Any) -> dict[str, Any]:
    return {
        "id": offer.id,
        "label": offer.label,
        "effect": offer.effect.type.value,
        "budget": asdict(offer.budget),
        "held": offer.hold is not None,
    }
