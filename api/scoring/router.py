"""``POST /v1/score``: a decision, reasons, tier and granted offers for one event.

The hottest route, so it reads its own request: the key, the query string and the
body are parsed here in plain functions instead of through FastAPI's dependency
solver (which, per request, cost as much as the scoring itself). The OpenAPI page
still shows the same body, parameters and answer (``openapi_extra``). The key is
checked before the body is read.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from api.auth import Ability
from api.deps import TENANT_HEADER, check, principal_for
from api.errors import InvalidRequest
from api.runtime import Runtime
from api.scoring.options import ScoreOptions
from api.scoring.schemas import ScoreResponse
from api.scoring.service import score_event
from engine.events import SCORED_TYPES, Event
from engine.logs import note
from engine.phones import use_region

router = APIRouter(prefix="/v1", tags=["scoring"])

SCORE_ABILITY = (Ability.SCORE,)
IDEMPOTENCY_HEADER = "idempotency-key"
IDEMPOTENCY_KEY_MAX = 128

OPENAPI = {
    "security": [{"bearerAuth": []}],  # the key is read here, not through the authenticate dependency
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Event"}}},
    },
    "parameters": [
        *ScoreOptions.openapi_parameters(),
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "a retried request with the same key and the same body and query gets the first "
            "response; the same key with another request gets 409 idempotency_conflict",
            "schema": {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX},
        },
    ],
}


@router.post(
    "/score",
    response_model=ScoreResponse,
    summary="Score an event: decision, reasons, tier, offers (budgets reserved atomically)",
    responses={
        401: {"description": "no, malformed or unknown API key"},
        403: {"description": "the key lacks the 'score' scope, or names another tenant without being a platform key"},
        409: {
            "description": "idempotency_conflict: the event_id or Idempotency-Key was first sent with other "
            "fields (named); in_progress: its first request is still being evaluated (Retry-After)"
        },
        422: {
            "description": "a field is invalid (the message names it); timestamp_out_of_range: the event "
            "time is further than the skew bound from the server's clock"
        },
        413: {"description": "body too large"},
    },
    openapi_extra=OPENAPI,
)
async def score(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    sent = request.headers
    caller = check(await principal_for(runtime, sent.get("authorization"), sent.get(TENANT_HEADER)), SCORE_ABILITY)
    options = ScoreOptions.from_query(request.query_params)
    idempotency_key = _idempotency_key(request.headers.get(IDEMPOTENCY_HEADER))
    use_region(
        runtime.rulesets.of(caller.tenant).ruleset.phone_region
    )  # phones in the body are read in the pack's region
    event = _event(await request.body())
    scored = await score_event(
        runtime=runtime,
        tenant=caller.tenant,
        event=event,
        idempotency_key=idempotency_key,
        options=options,
        query=request.url.query,
    )
    note(event_type=event.type, decision=scored.body.get("decision"), degraded=scored.body.get("degraded"))
    if not scored.replayed:
        await runtime.observer.scored(caller.tenant, event, scored.body)
    headers = {"Idempotent-Replayed": "true"} if scored.replayed else None
    return Response(scored.payload, media_type="application/json", headers=headers)


def _event(body: bytes) -> Event:
    """The event in the body, or the same 400 / 422 answers as every other route."""
    try:
        event = Event.model_validate_json(body)
    except ValidationError as err:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False)]
        ) from None
    if event.type not in SCORED_TYPES:
        raise InvalidRequest(
            f"type: {event.type!r} is an outcome, not a scored event; send it to /v1/events",
            extra={"fields": [{"field": "type", "message": f"one of {sorted(SCORED_TYPES)}"}]},
        )
    return event


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX:
        raise RequestValidationError(
            [{"type": "string_length", "loc": ("header", "Idempotency-Key"),
              "msg": f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters", "input": value}]
        )  # fmt: skip
    return value
