"""``POST /v1/score``: a decision, reasons, tier and granted offers for one event."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import IdempotencyKey, RuntimeDep, ScoreCaller
from api.errors import InvalidRequest
from api.scoring.options import ScoreOptions
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
    event: Event,
    runtime: RuntimeDep,
    caller: ScoreCaller,
    idempotency_key: IdempotencyKey = None,
    explain: Annotated[bool, Query(description="list every offer: applied, or why not")] = False,
    contact: Annotated[
        str | None, Query(pattern=r"^[a-z0-9_]{1,64}$", description="also answer: may staff contact them on it now?")
    ] = None,
    contact_record: Annotated[bool, Query(description="record the contact when allowed")] = False,
) -> JSONResponse:
    if event.type not in SCORED_TYPES:
        raise InvalidRequest(
            f"type: {event.type!r} is an outcome, not a scored event; send it to /v1/events",
            extra={"fields": [{"field": "type", "message": f"one of {sorted(SCORED_TYPES)}"}]},
        )
    options = ScoreOptions(explain, contact, contact_record) if explain or contact else None
    body, replayed = await score_event(
        runtime=runtime, tenant=caller.tenant, event=event, idempotency_key=idempotency_key, options=options
    )
    if not replayed:
        await runtime.observer.scored(caller.tenant, event, body)
    return JSONResponse(body, headers={"Idempotent-Replayed": "true"} if replayed else None)
