"""Liveness, readiness and the Prometheus scrape endpoint (no API key: for probes)."""

from __future__ import annotations

import contextlib
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.cases.service import refresh_queue_metrics
from api.deps import RuntimeDep
from engine.datastore.supervisor import read_state

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"]


class EmbeddedRedisState(BaseModel):
    state: str = Field(description="running, restarting, ... as `yutang serve`'s supervisor last wrote it")
    restarts: int
    last_exit: str | None = None


class Readiness(BaseModel):
    ready: bool
    redis: Literal["ok", "unreachable"]
    ruleset_version: str | None
    trust_event_time: bool = Field(description="event times taken as sent: a backfill deployment, never a live one")
    embedded_redis: EmbeddedRedisState | None = Field(None, description="only under `yutang serve`'s embedded Redis")


@router.get("/healthz", summary="The process is alive", response_model=Liveness)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Redis answers and a rule set is loaded; 503 otherwise",
    response_model=Readiness,
    responses={503: {"description": "not ready: the same body, with ready false", "model": Readiness}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    loaded = runtime.rulesets.engine.loaded
    redis_ok = await runtime.redis_ok()
    body: dict[str, object] = {
        "ready": loaded and redis_ok,
        "redis": "ok" if redis_ok else "unreachable",
        "ruleset_version": runtime.rulesets.base.ruleset.version if loaded else None,  # the base pack's
        # event times taken as sent: a backfill / simulation deployment, never a live one
        "trust_event_time": runtime.settings.trust_event_time,
    }
    if runtime.settings.embedded_redis_state and (state := read_state(runtime.settings.embedded_redis_state)):
        # `yutang serve` supervises the embedded Redis: say whether it is being restarted, and why
        # (a read of a few hundred bytes in the local data dir: cheaper than a hop to a thread)
        body["embedded_redis"] = {"state": state.state, "restarts": state.restarts_ok, "last_exit": state.last_exit}
    return JSONResponse(body, 200 if body["ready"] else 503)


@router.get("/metrics", summary="Prometheus metrics, summed over workers", include_in_schema=False)
async def metrics(runtime: RuntimeDep) -> Response:
    with contextlib.suppress(Exception):  # the queue's gauges: a scrape never fails for them
        await refresh_queue_metrics(runtime)
    payload, content_type = runtime.metrics.render()
    return Response(payload, media_type=content_type)
