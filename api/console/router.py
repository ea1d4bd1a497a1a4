"""``GET /console`` (the page), ``POST /v1/console/dry-run`` and ``POST /v1/rules/replay``.

The page itself needs no key: it is static, asks for a key (admin, marketer; a
marketer's sees no audit trail), keeps it in the tab's sessionStorage and calls the JSON
API with ``Authorization: Bearer``; it shows the key's own tenant only. The replay
lives under ``/v1/rules`` because logs are larger than events (the pack body limit).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from api.admin.answers import DryRunOut, ReplayOut
from api.console.service import MAX_REPLAY_EVENTS, dry_run, pack_source, parse_log, replay_log
from api.deps import RulesCaller, RuntimeDep
from api.errors import InvalidRequest
from engine.events import SCORED_TYPES, Event
from engine.replay.log import LogFormatError

PAGE = Path(__file__).with_name("index.html")

router = APIRouter(tags=["console"])


class ReplayRequest(BaseModel):
    """A log (JSON lines, as exported or simulated) and what to compare the running set with."""

    model_config = ConfigDict(extra="forbid")

    log: str = Field(min_length=1, max_length=2 * 1024 * 1024)
    baseline: str | None = Field(
        default=None, description="'previous' (the kept version before the running one) or a kept version"
    )


@cache
def _page() -> str:
    return PAGE.read_text(encoding="utf-8")


@router.get("/console", response_class=HTMLResponse, include_in_schema=False)
async def console() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Cache-Control": "no-store"})


@router.post(
    "/v1/console/dry-run",
    response_model=DryRunOut,
    summary="Score a sample event without recording anything or granting offers",
)
async def post_dry_run(event: Event, runtime: RuntimeDep, caller: RulesCaller) -> dict[str, Any]:
    if event.type not in SCORED_TYPES:
        raise InvalidRequest(f"type: {event.type!r} is an outcome; a dry run scores one of {sorted(SCORED_TYPES)}")
    return await dry_run(runtime=runtime, tenant=caller.tenant, event=event)


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
