"""415 for a request body that is not JSON, on every route that reads a JSON body.

Trusted: nothing. A storefront or a script that posts ``text/plain`` (or a form, or no
``Content-Type`` at all) with JSON inside must not have it read as JSON: a proxy, a WAF
or a log pipeline in front of the service treats that body as text, and ``/v1/score``
would otherwise parse it anyway (it reads its own body). Refused: a body whose
``Content-Type`` is not ``application/json`` or ``application/<something>+json``.
Let through: any request whose route reads no JSON body, and a body-less request
without a ``Content-Type`` (the route answers 422 when its body is required).

Pure ASGI, like the other middleware: a request that says ``application/json`` costs
one header scan; only the others are matched against the routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Match

from api.errors import json_error
from api.middleware import ASGIApp, Receive, Scope, Send

JSON = "application/json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json(content_type: str) -> bool:
    """``application/json`` or a ``+json`` type, any parameters (charset) aside."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


def reads_json(route: APIRoute) -> bool:
    """Whether ``route`` takes a JSON body: a FastAPI body parameter, or one it declares and parses itself."""
    if route.body_field is not None:
        return getattr(route.body_field.field_info, "media_type", JSON) == JSON
    declared: dict[str, Any] = (route.openapi_extra or {}).get("requestBody", {}).get("content", {})
    return JSON in declared


class JsonBodies:
    """Answer 415, naming the type expected, to a non-JSON body sent to a JSON route."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[APIRoute]) -> None:
        self.app = app
        self.routes = tuple(routes)  # the routes that read a JSON body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        content_type, has_body = _body_headers(scope)
        if (content_type is not None and is_json(content_type)) or (content_type is None and not has_body):
            await self.app(scope, receive, send)
            return
        if any(route.matches(scope)[0] is Match.FULL for route in self.routes):
            await _refuse(send, content_type)
            return
        await self.app(scope, receive, send)


def _body_headers(scope: Scope) -> tuple[str | None, bool]:
    """(Content-Type or None, whether a body follows) from the request's headers."""
    content_type, has_body = None, False
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"content-length":
            has_body = value.strip() not in (b"0", b"")
        elif name == b"transfer-encoding":
            has_body = True
    return content_type, has_body


async def _refuse(send: Send, content_type: str | None) -> None:
    sent = f"'{content_type[:100]}'" if content_type else "no Content-Type"
    body = json_error(415, "unsupported_media_type", f"the body must be sent as Content-Type: {JSON} (got {sent})")
    headers = [(b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 415, "headers": headers})
    await send({"type": "http.response.body", "body": body})
