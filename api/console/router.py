"""``GET /console[/<view>]`` (the shell), its static files, ``POST /v1/console/dry-run`` and ``POST /v1/rules/replay``.

The pages need no key: they are static, ask for a key (admin, marketer, reviewer; a
marketer's sees no audit trail), keep it in the tab's sessionStorage and call the JSON
API with ``Authorization: Bearer``; they show the key's own tenant only. The replay
lives under ``/v1/rules`` because logs are larger than events (the pack body limit).
The shell and its views are described in docs/console.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.admin.answers import DryRunOut, ReplayOut
from api.auth import Ability
from api.console.pages import CLASSIC_ID, assets, classic, page, view_ids
from api.console.service import MAX_REPLAY_EVENTS, dry_run, pack_source, parse_log, replay_log
from api.deps import RulesCaller, RuntimeDep
from api.errors import InvalidRequest, NotFound
from engine.events import SCORED_TYPES, Event
from engine.replay.log import LogFormatError

router = APIRouter(tags=["console"])


class ReplayRequest(BaseModel):
    """A log (JSON lines, as exported or simulated) and what to compare the running set with."""

    model_config = ConfigDict(extra="forbid")

    log: str = Field(min_length=1, max_length=2 * 1024 * 1024)
    baseline: str | None = Field(
        default=None, description="'previous' (the kept version before the running one) or a kept version"
    )


@router.get("/console", response_class=HTMLResponse, include_in_schema=False)
async def console() -> HTMLResponse:
    return HTMLResponse(page(), headers={"Cache-Control": "no-store"})


@router.get("/console/static/{path:path}", include_in_schema=False)
async def console_static(path: str) -> Response:
    asset = assets().get(path)
    if asset is None:
        raise NotFound(f"path: no console file {path[:80]!r}")
    return Response(asset.body, media_type=asset.media_type, headers={"Cache-Control": "no-cache"})


@router.get("/console/{view}", response_class=HTMLResponse, include_in_schema=False)
async def console_view(view: Annotated[str, PathParam(max_length=40)]) -> HTMLResponse:
    """The shell again: the browser draws the view its URL names (a reload keeps the view)."""
    if view == CLASSIC_ID:
        return HTMLResponse(classic(), headers={"Cache-Control": "no-store"})
    if view not in view_ids():
        raise NotFound(f"view: no console view {view!r}; views: {', '.join(view_ids())}")
    return HTMLResponse(page(), headers={"Cache-Control": "no-store"})


@router.post(
    "/v1/console/dry-run",
    response_model=DryRunOut,
    summary="Score a sample event without recording anything or granting offers",
)
async def post_dry_run(event: Event, runtime: RuntimeDep, caller: RulesCaller) -> dict[str, Any]:
    if event.type not in SCORED_TYPES:
        raise InvalidRequest(f"type: {event.type!r} is an outcome; a dry run scores one of {sorted(SCORED_TYPES)}")
    return await dry_run(runtime=runtime, tenant=caller.tenant, event=event, lists=Ability.LISTS in caller.abilities)


@router.post(
    "/v1/rules/replay",
    response_model=ReplayOut,
    summary=f"Replay a small log (at most {MAX_REPLAY_EVENTS} events) through the running set, against a baseline",
)
async def post_replay(body: ReplayRequest, runtime: RuntimeDep, caller: RulesCaller) -> dict[str, Any]:
    try:
        records = parse_log(body.log)
    except (LogFormatError, ValueError) as err:
        raise InvalidRequest(f"log: {err}") from err
    engine = runtime.rulesets.engine
    kept = {loaded.ruleset.version: loaded for loaded in engine.kept(caller.tenant)}
    current = runtime.rulesets.of(caller.tenant)
    baseline, version = None, None
    if body.baseline:
        older = [v for v in kept if v != current.ruleset.version]
        version = (older[-1] if older else None) if body.baseline == "previous" else body.baseline
        if version not in kept:
            raise InvalidRequest(f"baseline: {body.baseline!r} is not a kept version (kept: {', '.join(kept)})")
        baseline = pack_source(kept[version])
    summary = await replay_log(records, pack_source(current), baseline)
    summary["ruleset_version"] = current.ruleset.version
    summary["baseline_version"] = version
    return summary
