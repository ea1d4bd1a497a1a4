"""One ``/v1/score`` request from its parts to its answer, whoever read them (raw ASGI or FastAPI).

In order: the key (401 / 403 before the body is read), the query's options, the
Idempotency-Key, the phone region of the caller's pack, the body (400 / 422), the
score, the access line's fields and the observer (fresh answers only). Errors are
raised as the API's exception classes; the caller turns them into answers through
:func:`api.errors.answer_for`.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import QueryParams

from api.auth import Ability
from api.deps import check, principal_for
from api.runtime import Runtime
from api.scoring.options import ScoreOptions
from api.scoring.reading import Receive, event_from, idempotency_key_from, query_of, read_body
from api.scoring.service import score_event
from engine.logs import note
from engine.phones import use_region

SCORE_ABILITY = (Ability.SCORE,)
REPLAYED = {"Idempotent-Replayed": "true"}


@dataclass(frozen=True, slots=True)
class ScoreAnswer:
    """The 200 answer: the JSON sent, and the headers beside it (a replay says so)."""

    payload: bytes
    headers: dict[str, str] | None


async def score_request(
    runtime: Runtime,
    *,
    authorization: str | None,
    tenant: str | None,
    idempotency_key: str | None,
    query_string: bytes,
    receive: Receive,
) -> ScoreAnswer:
    """Authenticate, read and score one request; raise the API's errors for the caller to answer."""
    caller = check(await principal_for(runtime, authorization, tenant), SCORE_ABILITY)
    options = ScoreOptions.from_query(QueryParams(query_string)) if query_string else None
    key = idempotency_key_from(idempotency_key)
    use_region(runtime.rulesets.of(caller.tenant).ruleset.phone_region)  # phones in the body: the pack's region
    event = event_from(await read_body(receive))
    scored = await score_event(
        runtime=runtime,
        tenant=caller.tenant,
        event=event,
        idempotency_key=key,
        options=options,
        query=query_of(query_string),
    )
    note(event_type=event.type, decision=scored.body.get("decision"), degraded=scored.body.get("degraded"))
    if not scored.replayed:
        await runtime.observer.scored(caller.tenant, event, scored.body)
    return ScoreAnswer(scored.payload, REPLAYED if scored.replayed else None)
