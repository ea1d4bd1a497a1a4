"""``POST /v1/events``: outcomes that are not scored (order paid, refund, chargeback, label)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import EventsCaller, RuntimeDep
from api.error_responses import CLAIMS_EVENT_ID
from api.errors import InvalidRequest
from api.outcomes.schemas import OutcomeResponse
from api.outcomes.service import record_outcome
from engine.events import OUTCOME_TYPES, Event
from engine.logs import note

router = APIRouter(prefix="/v1", tags=["outcomes"])


@router.post(
    "/events",
    response_model=OutcomeResponse,
    summary="Record an outcome: updates features, releases or voids held rewards, updates lists",
    responses={
        **CLAIMS_EVENT_ID,
        422: {
            "description": "a field is invalid (the message names it); timestamp_out_of_range: the event "
            "time is further than the skew bound from the server's clock"
        },
        503: {"description": "Redis unavailable: retry later (outcomes are idempotent by event_id)"},
    },
)
async def post_event(event: Event, runtime: RuntimeDep, caller: EventsCaller) -> JSONResponse:
    note(event_type=event.type)
    if event.type not in OUTCOME_TYPES:
        raise InvalidRequest(
            f"type: {event.type!r} is scored; send it to /v1/score",
            extra={"fields": [{"field": "type", "message": f"one of {sorted(OUTCOME_TYPES)}"}]},
        )
    if event.type == "label" and event.label is None:
        raise InvalidRequest(
            "label: required for type=label (fraud | legit)",
            extra={"fields": [{"field": "label", "message": "required"}]},
        )
    body, replayed = await record_outcome(
        runtime=runtime, tenant=caller.tenant, event=event, author=f"key:{caller.key_id}"
    )
    if not replayed:
        await runtime.observer.outcome(caller.tenant, event)
    return JSONResponse(body, headers={"Idempotent-Replayed": "true"} if replayed else None)
