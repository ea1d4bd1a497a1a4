"""Edit one file of the running pack: list its files, read one, check a new text of it, run it.

Beside the whole-pack routes (api/admin/router.py: validate and reload take every file
of a tenant's pack): here a marketer changes one file and the rest of the running pack
stays as it runs, so a one-number edit is checked as that, not as a pack of one file.
Which files a tenant may edit, and how paths are shown and trusted: api/admin/sources.py.

A save is a reload like an upload (compiled in the bounded child process, swapped only
if it compiled, published to every worker, audited with its author and source), with
one more guard: it names the version the edit was made from, and a save from a version
that is no longer running is refused (409 ``stale_version``), never laid over a change
someone else made meanwhile. Saves of one tenant hold a lock in Redis while they
compile, so two saves from one version on two workers run one after the other (the
second gets 409) instead of both passing the check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api import audit
from api.admin.edit_lock import editing
from api.admin.router import reload_source
from api.admin.source_schemas import SourceCheckOut, SourceEdit, SourceOut, SourceReloadOut, SourceSave, SourcesOut
from api.admin.sources import (
    FileMissing,
    Layer,
    Mode,
    PackFile,
    PackView,
    PathRefused,
    ReadOnly,
    check_path,
    rule_changes,
    running_view,
)
from api.audit import Action
from api.audit.diff import rules_diff
from api.deps import RulesCaller, RuntimeDep
from api.errors import ApiError, InvalidRequest, NotFound
from api.rule_store import counts
from api.rulesets import StaleVersion
from api.runtime import Runtime
from engine.diagnostics import Diagnostic
from engine.errors import RuleLoadError
from engine.rule_engine import LoadedRuleSet

router = APIRouter(prefix="/v1/rules", tags=["rules"])

NOT_EDITABLE: dict[int | str, dict[str, Any]] = {
    403: {"description": "read_only: a base file, for a tenant with a pack of its own (or the key lacks rules)"},
    404: {"description": "no file of that path in the tenant's running pack"},
}
SAVE_ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_EDITABLE,
    409: {"description": "stale_version: another version runs now; edit_in_progress: another save is compiling"},
    422: {"description": "rule_pack_invalid: the pack does not compile with this text; the running set stays"},
}


class ReadOnlyFile(ApiError):
    status = 403
    code = "read_only"


class RulePackInvalid(ApiError):
    status = 422
    code = "rule_pack_invalid"


@router.get("/sources", response_model=SourcesOut, summary="The running pack's files: paths inside the pack, layers")
async def list_rule_sources(runtime: RuntimeDep, caller: RulesCaller) -> dict[str, Any]:
    loaded = runtime.rulesets.of(caller.tenant)
    view = _view(runtime, caller.tenant, loaded)
    files = [_file(view, file, loaded) for file in view.files]
    return {"tenant": caller.tenant, "version": view.version, "mode": view.mode,
            "copy_on_save": view.mode is Mode.BASE, "files": files}  # fmt: skip


@router.get(
    "/source", response_model=SourceOut, summary="One file of the running pack: its text", responses=NOT_EDITABLE
)
async def get_rule_source(
    runtime: RuntimeDep,
    caller: RulesCaller,
    path: Annotated[str, Query(min_length=1, max_length=200, description="as GET /v1/rules/sources lists it")],
    layer: Annotated[
        Layer | None, Query(description="base: the base's file where the tenant has one of that path")
    ] = None,
) -> dict[str, Any]:
    loaded = runtime.rulesets.of(caller.tenant)
    view = _view(runtime, caller.tenant, loaded)
    file = _found(view, path, layer)
    warnings = [view.display(d) for d in loaded.diagnostics if d.location.file == file.key]
    return {**_file(view, file, loaded), "tenant": caller.tenant, "version": view.version, "mode": view.mode,
            "text": view.text(file), "diagnostics": warnings}  # fmt: skip


@router.post(
    "/source/validate",
    response_model=SourceCheckOut,
    summary="Diagnostics of one file's new text, checked in the running pack (nothing is loaded)",
    responses=NOT_EDITABLE,
)
async def validate_rule_source(
    body: SourceEdit, request: Request, runtime: RuntimeDep, caller: RulesCaller
) -> dict[str, Any]:
    rulesets, tenant = runtime.rulesets, caller.tenant
    loaded = rulesets.of(tenant)
    view = _view(runtime, tenant, loaded)
    new = view.replaced(_editable(view, body.path), body.text)
    ruleset, diagnostics = await rulesets.compile(
        rulesets.base.files, tenant_files=new, abandoned=request.is_disconnected,
        webhook_policy=rulesets.policy_for(tenant), backend=rulesets.backend_for(tenant),
    )  # fmt: skip  # exactly as the save would compile it
    return {
        "ok": ruleset is not None,
        "path": body.path,
        "mode": view.mode,
        "running": view.version,
        "stale": body.version is not None and body.version != view.version,
        "version": ruleset.version if ruleset else None,
        "counts": counts(ruleset) if ruleset else None,
        "changes": rule_changes(loaded.ruleset, ruleset) if ruleset else None,
        "diagnostics": _shown(view, diagnostics, new),
    }


@router.post(
    "/source/reload",
    response_model=SourceReloadOut,
    summary="Run the pack with one file's new text, on every worker; refused if another version runs by now",
    responses=SAVE_ERRORS,
)
async def reload_rule_source(
    body: SourceSave, request: Request, runtime: RuntimeDep, caller: RulesCaller
) -> dict[str, Any]:
    rulesets, tenant, source = runtime.rulesets, caller.tenant, reload_source(request)
    async with editing(runtime, tenant):
        await rulesets.catch_up(tenant, await runtime.guard.call("rules", rulesets.store.generations()))
        before = rulesets.of(tenant)
        view = _view(runtime, tenant, before)
        if body.version != view.version:
            raise StaleVersion(
                f"{body.path!r} was edited from version {body.version}, but {view.version} is running now: "
                "open the file again and redo the edit on it",
                extra={"edited_from": body.version, "running": view.version},
            )
        file = _editable(view, body.path)
        if view.text(file) == body.text:
            return _saved(tenant, body.path, before, before, view, changed=False)
        new = view.replaced(file, body.text)
        try:
            loaded, changed = await rulesets.reload(
                tenant, new, abandoned=request.is_disconnected, author=caller.key_id, source=source,
                expect=body.version,
            )  # fmt: skip
        except RuleLoadError as err:
            errors = sum(d.is_error for d in err.diagnostics)
            raise RulePackInvalid(
                f"the pack does not compile with this text of {body.path!r} ({errors} error(s)); "
                f"version {view.version} keeps running",
                extra={"diagnostics": _shown(view, err.diagnostics, new), "running": view.version},
            ) from err
    await audit.record(
        runtime, caller, Action.RULES_RELOAD, target=f"file {body.path}", before=before.ruleset.version,
        after=loaded.ruleset.version, diff=rules_diff(before, loaded), source=source, changed=changed,
    )  # fmt: skip
    return _saved(tenant, body.path, before, loaded, _view(runtime, tenant, loaded), changed=changed)


def _view(runtime: Runtime, tenant: str, loaded: LoadedRuleSet) -> PackView:
    return running_view(runtime.rulesets, tenant, loaded)


def _found(view: PackView, path: str, layer: Layer | None) -> PackFile:
    try:
        return view.find(check_path(path), layer)
    except PathRefused as err:
        raise InvalidRequest(f"path: {err}", extra={"fields": [{"field": "path", "message": str(err)}]}) from err
    except FileMissing as err:
        raise NotFound(str(err), extra={"files": [f.path for f in view.files]}) from err


def _editable(view: PackView, path: str) -> PackFile:
    try:
        return view.editable(path)
    except FileMissing as err:
        raise NotFound(str(err), extra={"files": [f.path for f in view.files if f.editable]}) from err
    except ReadOnly as err:
        raise ReadOnlyFile(str(err)) from err


def _file(view: PackView, file: PackFile, loaded: LoadedRuleSet) -> dict[str, Any]:
    rules = [r.id for r in (loaded.ruleset.all_rules or loaded.ruleset.rules) if r.location.file == file.key]
    size = len(view.text(file).encode("utf-8"))
    return {"path": file.path, "layer": file.layer, "editable": file.editable, "bytes": size, "rules": rules}


def _shown(view: PackView, diagnostics: Sequence[Diagnostic], new: dict[str, str]) -> list[dict[str, Any]]:
    return [view.display(d, new) for d in diagnostics]


def _saved(
    tenant: str, path: str, before: LoadedRuleSet, after: LoadedRuleSet, view: PackView, *, changed: bool
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "path": path,
        "version": after.ruleset.version,
        "previous": before.ruleset.version,
        "changed": changed,
        "mode": view.mode,
        "changes": rule_changes(before.ruleset, after.ruleset),
        "warnings": [view.display(d) for d in after.diagnostics],
    }
