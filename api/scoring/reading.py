"""What a ``/v1/score`` request says, read the same way by the FastAPI route and the raw one.

Trusted: nothing. The event is the engine's ``Event`` model (400 for a body that is not
JSON, nested too deep or not UTF-8; 422 naming each bad field); an ``Idempotency-Key``
is 1-128 characters (422 naming the header); the query string is parsed as Starlette
parses it (the last of a repeated parameter wins) and fingerprinted as sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.errors import ClientClosedRequest, InvalidRequest
from engine.events import SCORED_TYPES, Event

IDEMPOTENCY_HEADER = "idempotency-key"
IDEMPOTENCY_KEY_MAX = 128

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def event_from(body: bytes) -> Event:
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


def idempotency_key_from(value: str | None) -> str | None:
    """The caller's Idempotency-Key, or a 422 naming the header when it is empty or too long."""
    if value is None:
        return None
    if not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX:
        raise RequestValidationError(
            [{"type": "string_length", "loc": ("header", "Idempotency-Key"),
              "msg": f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters", "input": value}]
        )  # fmt: skip
    return value


def query_of(query_string: bytes) -> str:
    """The query as ``request.url.query`` reads it (fingerprinted with an Idempotency-Key).

    uvicorn refuses a request line that is not ASCII, so the decoding cannot fail
    behind it; another server's bytes are read as Latin-1 rather than answered with a 500.
    """
    if not query_string:
        return ""
    try:
        text = query_string.decode()
    except UnicodeDecodeError:
        text = query_string.decode("latin-1")
    return urlsplit(f"/?{text}").query


async def read_body(receive: Receive) -> bytes:
    """The whole body from the ASGI channel; :class:`ClientClosedRequest` if the caller left first.

    The body-limit middleware in front has already refused a body over the limit, by its
    Content-Length or while it streamed in (chunked), so this never buffers more than that.
    """
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientClosedRequest("the client went away before sending its body")
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    parts = [body]
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientClosedRequest("the client went away before sending its body")
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)
