"""``POST /v1/score`` as the OpenAPI page shows it: body, parameters, answers.

The hottest route is answered below the framework (api/scoring/hot.py, mounted in
api/app.py); the route stays declared here for the schema and the contract test, and
answers itself only when the raw handler is switched off (``YUTANG_HOT_ROUTE=0``).
Both hand the same request parts to :func:`api.scoring.story.score_request`, so they
cannot answer differently (tests/api/hot/ sends both the same corpus and compares).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import TENANT_HEADER
from api.runtime import Runtime
from api.scoring.options import ScoreOptions
from api.scoring.reading import IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_MAX
from api.scoring.schemas import ScoreResponse
from api.scoring.story import score_request

router = APIRouter(prefix="/v1", tags=["scoring"])

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
    """Declared for the OpenAPI page; requests are answered by api/scoring/hot.py unless ``YUTANG_HOT_ROUTE=0``."""
    runtime: Runtime = request.app.state.runtime
    sent = request.headers
    answer = await score_request(
        runtime,
        authorization=sent.get("authorization"),
        tenant=sent.get(TENANT_HEADER),
        idempotency_key=sent.get(IDEMPOTENCY_HEADER),
        query_string=request.scope["query_string"],
        receive=request.receive,
    )
    return Response(answer.payload, media_type="application/json", headers=answer.headers)
