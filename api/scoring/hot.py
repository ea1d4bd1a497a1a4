"""``POST /v1/score`` below the framework: a raw ASGI handler in front of FastAPI.

FastAPI's routing, its exception middleware, a ``Request`` and a ``Response`` per
request cost about as much as the evaluation of the rules; this handler does the
route's own work with none of them: one pass over the headers, the body read from the
channel, the answer sent as two messages. What is shared stays shared: the request id,
the access line, request metrics, the body limit and the JSON media type are the same
pure-ASGI middleware classes FastAPI runs (api/app.py wraps this handler in them), the
request's story is :func:`api.scoring.story.score_request` and every error is answered
by :func:`api.errors.answer_for`, as the FastAPI route and its handlers do.

Trusted of the caller: nothing more than the FastAPI route trusted. Headers are read as
Starlette reads them: names lower-cased by the server, values as Latin-1, the first of
a repeated header wins. The body is whatever arrived, chunked or by Content-Length
(the body limit in front refuses a larger one); a caller that leaves before its body is
complete gets no answer and a 499 access line, never a traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.routing import APIRoute

from api.encoding import encode
from api.errors import answer_for
from api.runtime import Runtime
from api.scoring.story import score_request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

AUTHORIZATION = b"authorization"
TENANT = b"x-yutang-tenant"
IDEMPOTENCY = b"idempotency-key"
_READ = frozenset({AUTHORIZATION, TENANT, IDEMPOTENCY})
JSON_TYPE = (b"content-type", b"application/json")


class ScoreEndpoint:
    """Answer ``POST /v1/score`` from the ASGI scope; ``runtime`` is the app's, read per request (lifespan)."""

    def __init__(self, route: APIRoute, runtime: Callable[[], Runtime]) -> None:
        self.route = route  # its template labels the metrics and the access line, as routing would
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route
        sent = _headers(scope["headers"])
        try:
            answer = await score_request(
                self.runtime(),
                authorization=sent.get(AUTHORIZATION),
                tenant=sent.get(TENANT),
                idempotency_key=sent.get(IDEMPOTENCY),
                query_string=scope["query_string"],
                receive=receive,
            )
        except Exception as exc:  # an ApiError, a RequestValidationError, an EngineError: answered by class
            mapped = answer_for(exc)
            if mapped is None:
                raise  # RequestContext logs it once and answers 500 internal_error
            status, body, headers = mapped
            await _send(send, status, encode(body), headers)
            return
        await _send(send, 200, answer.payload, answer.headers)


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[bytes, str]:
    """The headers the route reads, the first of each (as ``Request.headers.get``), decoded as Latin-1."""
    found: dict[bytes, str] = {}
    for name, value in raw:
        if name in _READ and name not in found:
            found[name] = value.decode("latin-1")
    return found


async def _send(send: Send, status: int, payload: bytes, headers: dict[str, str] | None) -> None:
    raw = [JSON_TYPE, (b"content-length", str(len(payload)).encode())]
    if headers:
        raw += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
