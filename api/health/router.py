"""Liveness, readiness and the Prometheus scrape endpoint (no API key: for probes)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.deps import RuntimeDep
from engine.redis_supervisor import read_state

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Redis answers and a rule set is loaded; 503 otherwise",
    responses={
        503: {
            "description": "not ready (same body, ready: false)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
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
    payload, content_type = runtime.metrics.render()
    return Response(payload, media_type=content_type)
