"""422 ``duplicate_key`` for a JSON body that gives one key twice in an object, on every route.

Trusted: nothing. RFC 8259 leaves a repeated name's meaning to the reader, and readers
disagree: the standard library and pydantic take the last, others the first, a log shows
both. ``{"customer": "mum1", ..., "customer": "farm-7"}`` would be one customer to a
gateway, a WAF or the storefront's own check in front of yutang and another to the score
(or one list value to the person who reviewed an entry and another to the list). So a
body that names a key twice in any object (once its escapes are decoded: ``"\\u0063ustomer"``
is ``customer``) is refused before any route reads it, naming the key by its dotted path.

Checked: a body sent as JSON (``application/json`` or ``+json``, as api/media.py reads the
type), already held to its size by the body limit in front. A body that is not valid JSON
passes untouched, so the route's own 400 ``invalid_json`` answers it. Cost: one parse by
the standard library with a pairs hook (~5 µs for a scored event's 250 bytes).
"""

from __future__ import annotations

import json
from typing import Any

from api.errors import error_body
from api.media import BODY_METHODS, is_json
from api.middleware import ASGIApp, Receive, Scope, Send, replay

#: Characters of the repeated key's path an answer echoes.
KEY_SHOWN = 200


class _Repeated(Exception):
    """A key was given twice in one object: the fast pass stops at the first."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _Repeated
    return found


_CHECK = json.JSONDecoder(object_pairs_hook=_unique)
_PAIRS = json.JSONDecoder(object_pairs_hook=lambda pairs: pairs)


def repeated_key(body: bytes) -> str | None:
    """The dotted path of the first key given twice in one object of ``body``; None if none is, or not JSON."""
    try:
        text = body.decode()
        _CHECK.decode(text)
    except _Repeated:
        return _first_repeated(_PAIRS.decode(text), ()) or "body"
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested past the parser: the route answers it
        return None
    return None


def _first_repeated(node: Any, path: tuple[str, ...]) -> str | None:
    """Walk the body read as lists of pairs: objects are ``list[tuple]``, arrays plain lists."""
    if not isinstance(node, list):
        return None
    if node and all(type(item) is tuple for item in node):  # an object
        seen: set[str] = set()
        for key, _ in node:
            if key in seen:
                return ".".join((*path, key))
            seen.add(key)
        children = [((*path, key), value) for key, value in node]
    else:
        children = [((*path, str(n)), value) for n, value in enumerate(node)]
    for child_path, value in children:
        found = _first_repeated(value, child_path)
        if found is not None:
            return found
    return None


class UniqueKeys:
    """Answer 422 naming the key to a JSON body that gives one key twice; pass every other request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS or not _sent_as_json(scope):
            await self.app(scope, receive, send)
            return
        body, first = bytearray(), None
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the caller left: the app sees it as it would have
                first = message
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if first is None:
            key = repeated_key(bytes(body))
            if key is not None:
                await _refuse(send, key)
                return
        await self.app(scope, replay(bytes(body), first, receive), send)


def _sent_as_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return is_json(value.decode("latin-1"))
    return False


async def _refuse(send: Send, key: str) -> None:
    key = key if len(key) <= KEY_SHOWN else f"{key[:KEY_SHOWN]}..."  # the caller's text: echoed, bounded
    message = f"{key}: given twice in one object; send each key once"
    fields = [{"field": key, "message": "given twice in one object"}]
    body = json.dumps(error_body("duplicate_key", message, fields=fields)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": body})
