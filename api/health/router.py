"""Liveness, readiness and the Prometheus scrape endpoint (no API key: for probes)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Redis answers and a rule set is loaded; 503 otherwise")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    loaded = runtime.rulesets.engine.loaded
    redis_ok = await runtime.redis_ok()
    body = {
        "ready": loaded and redis_ok,
        "redis": "ok" if redis_ok else "unreachable",
        "ruleset_version": runtime.rulesets.current.ruleset.version if loaded else None,
        # event times taken as sent: a backfill / simulation deployment, never a live one
        "trust_event_time": runtime.settings.trust_event_time,
    }
    return JSONResponse(body, 200 if body["ready"] else 503)


@router.get("/metrics", summary="Prometheus metrics, summed over workers", include_in_schema=False)
async def metrics(runtime: RuntimeDep) -> Response:
    payload, content_type = runtime.metrics.render()
    return Response(payload, media_type=content_type)
