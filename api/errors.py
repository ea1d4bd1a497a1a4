"""One exception base for the service, and the one place every error becomes an HTTP answer.

Engine errors are mapped by class (``RuleLoadError`` -> 422 with diagnostics,
``StoreUnavailable`` -> 503); nothing answers a bare "Unknown error".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.errors import CompileAbandoned, EngineError, EvaluationError, RuleLoadError, StoreUnavailable
from engine.events import ID_PATTERN
from engine.logs import current_request_id, note

log = logging.getLogger("yutang.api")


class ApiError(Exception):
    """Base of every error the API raises on purpose: a status, a stable code, a message."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        self.headers = headers


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class ClientClosedRequest(ApiError):
    """The caller went away before its body was read: nobody reads the answer, the access line says 499."""

    status = 499
    code = "client_closed_request"


class InvalidRequest(ApiError):
    status = 422
    code = "invalid_request"


class TimestampOutOfRange(InvalidRequest):
    code = "timestamp_out_of_range"


class IdempotencyConflict(ApiError):
    """An event id or Idempotency-Key reused with a different request."""

    status = 409
    code = "idempotency_conflict"


class InProgress(ApiError):
    """The first request with this event id is still being evaluated; retry after ``Retry-After``."""

    status = 409
    code = "in_progress"


class CaseConflict(ApiError):
    """A case is claimed by another reviewer, or was decided otherwise."""

    status = 409
    code = "case_conflict"


class ServiceUnavailable(ApiError):
    status = 503
    code = "unavailable"


#: Engine errors by class, most specific first: (status, code).
ENGINE_ERRORS: tuple[tuple[type[EngineError], int, str], ...] = (
    (RuleLoadError, 422, "rule_pack_invalid"),
    (CompileAbandoned, 499, "client_closed_request"),  # nobody reads it: the client has gone
    (StoreUnavailable, 503, "store_unavailable"),
    (EvaluationError, 500, "evaluation_failed"),
    (EngineError, 500, "engine_error"),
)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """``{"error": {code, message, ..., request_id}}``: the request id joins the answer to the server's log line."""
    note(error=code)
    return {"error": {"code": code, "message": message, **extra, "request_id": current_request_id()}}


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic error entries -> ``[{field, message}]`` with dotted field paths."""
    fields = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):  # where it was, not a field (a field may be "path")
            loc = loc[1:]
        fields.append({"field": ".".join(loc) or "body", "message": _message(err)})
    return fields


def _message(err: Any) -> str:
    """Pydantic's message, except for ids, whose pattern would say nothing to a caller."""
    if (err.get("ctx") or {}).get("pattern") == ID_PATTERN:
        return "an id: visible characters only, no spaces, controls or invisible characters"
    return str(err.get("msg", "invalid"))


#: What :func:`answer_for` returns: the status, the JSON body and any headers of the answer.
Answer = tuple[int, dict[str, Any], dict[str, str] | None]


def api_answer(exc: ApiError) -> Answer:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else exc.headers
    return exc.status, error_body(exc.code, exc.message, **exc.extra), headers


def engine_answer(exc: EngineError) -> Answer:
    cls, status, code = next(entry for entry in ENGINE_ERRORS if isinstance(exc, entry[0]))
    if isinstance(exc, RuleLoadError):
        diagnostics = [d.as_dict() for d in exc.diagnostics]
        return status, error_body(code, str(exc).splitlines()[0], diagnostics=diagnostics), None
    if status == 500:  # a fault of ours: its traceback, once (the access line has the request id too)
        log.error("engine error: %s", exc, exc_info=exc)
    return status, error_body(code, str(exc) or cls.__name__), None


def validation_answer(exc: RequestValidationError) -> Answer:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, error_body("invalid_json", "the body is not valid JSON"), None
    fields = field_errors(errors)
    message = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:10])
    return 422, error_body("invalid_request", message, fields=fields), None


def answer_for(exc: Exception) -> Answer | None:
    """The answer to an error a route raised, by class; None for one nobody maps (a 500 upstream).

    The one mapping both the FastAPI handlers below and the raw ``/v1/score`` handler
    (api/scoring/hot.py) use, so the two can never answer the same error differently.
    """
    if isinstance(exc, ApiError):
        return api_answer(exc)
    if isinstance(exc, RequestValidationError):
        return validation_answer(exc)
    if isinstance(exc, EngineError):
        return engine_answer(exc)
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Map every error class to its HTTP answer."""

    def respond(answer: Answer) -> JSONResponse:
        status, body, headers = answer
        return JSONResponse(body, status, headers=headers)

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return respond(api_answer(exc))

    async def engine_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EngineError)
        return respond(engine_answer(exc))

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return respond(validation_answer(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:  # FastAPI could not parse the body (malformed, or nested past its parser)
            return JSONResponse(error_body("invalid_json", "the body is not valid JSON"), 400)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(EngineError, engine_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def json_error(status: int, code: str, message: str) -> bytes:
    """A pre-rendered error body for ASGI middleware that answers before the app runs."""
    return json.dumps(error_body(code, message)).encode()
