"""Rule administration: what is running, validate an uploaded pack, reload atomically.

Validate and reload compile in a bounded child process (engine/compile/isolated.py)
and stop it when the client disconnects: an abandoned upload costs nothing more.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from api import audit
from api.admin.edit_lock import editing
from api.admin.schemas import PackFiles, ReloadRequest, ReloadResponse, RulesResponse, RuleSummary, ValidateResponse
from api.audit import Action, Source
from api.audit.diff import rules_diff
from api.deps import ReaderCaller, RulesCaller, RuntimeDep
from api.rule_store import counts

router = APIRouter(prefix="/v1/rules", tags=["rules"])


@router.get("", response_model=RulesResponse, summary="The running rule set: version, counts, shadow rules")
async def get_rules(runtime: RuntimeDep, caller: ReaderCaller) -> RulesResponse:
    ruleset = runtime.rulesets.of(caller.tenant).ruleset
    return RulesResponse(
        tenant=caller.tenant,
        own_pack=runtime.rulesets.engine.owns(caller.tenant),
        version=ruleset.version,
        name=ruleset.name,
        timezone=ruleset.timezone,
        backend=runtime.rulesets.engine.backend.value,
        kept_versions=runtime.rulesets.engine.versions(caller.tenant),
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
        runtime.rulesets.base.files, tenant_files=body.files, abandoned=request.is_disconnected, webhook_policy=policy
    )  # the tenant's pack as a reload would run it: on the base (or alone, when it declares pack:)
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
    responses={
        409: {"description": "edit_in_progress: another change of the tenant's pack is compiling"},
        422: {"description": "the pack has errors; the running set stays"},
    },
)
async def reload(
    request: Request, runtime: RuntimeDep, caller: RulesCaller, body: ReloadRequest | None = None
) -> ReloadResponse:
    tenant = caller.tenant
    before = runtime.rulesets.of(tenant) if runtime.rulesets.engine.loaded else None
    previous = before.ruleset.version if before else None
    source = reload_source(request)
    async with editing(runtime, tenant):
        loaded, changed = await runtime.rulesets.reload(
            tenant, body.files if body else None, abandoned=request.is_disconnected, author=caller.key_id,
            source=source,
        )  # fmt: skip
    await audit.record(
        runtime, caller, Action.RULES_RELOAD, target="upload" if body and body.files else "rules directory",
        before=previous, after=loaded.ruleset.version, diff=rules_diff(before, loaded), source=source,
        changed=changed,
    )  # fmt: skip
    warnings = [d.as_dict() for d in loaded.diagnostics]
    return ReloadResponse.model_validate(
        {"tenant": tenant, "version": loaded.ruleset.version, "previous": previous, "changed": changed,
         "warnings": warnings}
    )  # fmt: skip


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


def reload_source(request: Request) -> Source:
    """``sidecar`` when ops/rules_sync.py asked (it says so in X-Yutang-Source), else ``api``.

    Only a label: the entry names the key that asked either way.
    """
    return Source.SIDECAR if request.headers.get("x-yutang-source") == Source.SIDECAR else Source.API
