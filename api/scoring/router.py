"""``POST /v1/score``: a decision, reasons, tier and granted offers for one event."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import IdempotencyKey, RuntimeDep, ScoreCaller
from api.errors import InvalidRequest
from api.scoring.schemas import ScoreResponse
from api.scoring.service import score_event
from engine.events import SCORED_TYPES, Event

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.post(
    "/score",
    response_model=ScoreResponse,
    summary="Score an event: decision, reasons, tier, offers (budgets reserved atomically)",
    responses={
        422: {"description": "a field is invalid; the message names it"},
        413: {"description": "body too large"},
    },
)
async def score(
    event: Event, runtime: RuntimeDep, caller: ScoreCaller, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    if event.type not in SCORED_TYPES:
        raise InvalidRequest(
            f"type: {event.type!r} is an outcome, not a scored event; send it to /v1/events",
            extra={"fields": [{"field": "type", "message": f"one of {sorted(SCORED_TYPES)}"}]},
        )
    body, replayed = await score_event(
        runtime=runtime, tenant=caller.tenant, event=event, idempotency_key=idempotency_key
    )
    return JSONResponse(body, headers={"Idempotent-Replayed": "true"} if replayed else None)
