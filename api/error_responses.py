"""Every error status a route can answer, written into its OpenAPI operation, with the body's shape.

A client generated from ``/openapi.json`` (and schemathesis' status-code check) only
knows the statuses the document lists, so each one the service answers is listed:
derived here from what the route is, in one place, instead of a ``responses=`` on each
route that drifts. What the route is decides what it can answer:

- it reads a JSON body: 400 ``invalid_json``, 413 ``payload_too_large``, 415
  ``unsupported_media_type`` (api/media.py), 422 ``invalid_request`` or ``duplicate_key``
  (a key given twice in one object, api/json_keys.py);
- it has path, query or header parameters: 422 ``invalid_request``;
- it needs an API key: 401 ``unauthorized``, 403 ``forbidden``, and 503 (Redis down or
  the circuit open: ``unavailable``, ``store_unavailable``).

Statuses particular to one route (404 of an unknown group-buy, 409 of a reused event
id) stay declared on the route; each error status gets the ``ErrorResponse`` body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from api.deps import authenticate
from api.media import reads_json

SCHEMA_NAME = "ErrorResponse"
REF = {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}

BODY_ERRORS = {
    "400": "the body is not valid JSON (code invalid_json)",
    "413": "the body is larger than the limit (code payload_too_large)",
    "415": "the body is not sent as Content-Type: application/json (code unsupported_media_type)",
    "422": "a field, parameter or header is invalid, or the body gives one key twice in an object; the message "
    "and `fields` name it (code invalid_request or duplicate_key)",
}
PARAMETER_ERRORS = {
    "422": "a field, parameter or header is invalid; the message and `fields` name it (code invalid_request)"
}
KEY_ERRORS = {
    "401": "no, malformed or unknown API key (code unauthorized)",
    "403": "the key's role or scopes do not allow this operation, or it names another tenant in X-Yutang-Tenant "
    "without being a platform key (code forbidden)",
    "503": "Redis is unreachable or its circuit is open: retry later (code unavailable or store_unavailable)",
}


#: For routes that claim an event id (api/claims.py): declare with ``responses=CLAIMS_EVENT_ID``.
CLAIMS_EVENT_ID: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "idempotency_conflict: the event_id was first sent with other fields (named); "
        "in_progress: its first request is still running (Retry-After)"
    }
}


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the field, parameter or header, e.g. timestamp or body")
    message: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="stable and machine-readable, e.g. invalid_request, unsupported_media_type")
    message: str = Field(description="for people: names the field and what is wrong with it")
    fields: list[FieldError] | None = None
    request_id: str | None = Field(
        default=None, description="this request's X-Request-Id (the caller's if well formed): quote it to the operator"
    )


class ErrorResponse(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: ErrorDetail


def add_error_responses(schema: dict[str, Any], routes: Iterable[APIRoute]) -> None:
    """Add the statuses each route can answer to ``schema`` (a rendered OpenAPI document), in place."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    rendered = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(rendered.pop("$defs", {}))
    components[SCHEMA_NAME] = rendered
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for route in routes:
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is not None:
                _document(operation, statuses(route))


def statuses(route: APIRoute) -> dict[str, str]:
    """Error status -> description, for what ``route`` is."""
    found: dict[str, str] = {}
    if reads_json(route):
        found |= BODY_ERRORS
    if _has_parameters(route.dependant) or reads_json(route):
        found |= PARAMETER_ERRORS
    if needs_key(route):
        found |= KEY_ERRORS
    return found


def _document(operation: dict[str, Any], errors: dict[str, str]) -> None:
    responses = operation.setdefault("responses", {})
    for status, description in errors.items():
        responses.setdefault(status, {"description": description})
    for status, response in responses.items():
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if status[:1] in ("4", "5") and (not schema or schema.get("$ref", "").endswith("/HTTPValidationError")):
            response["content"] = {"application/json": {"schema": REF}}


def _has_parameters(dependant: Dependant) -> bool:
    """Path, query or documented header parameters (the Authorization header is never invalid, only absent)."""
    headers = [p for p in dependant.header_params if getattr(p.field_info, "include_in_schema", True)]
    if dependant.path_params or dependant.query_params or headers:
        return True
    return any(_has_parameters(sub) for sub in dependant.dependencies)


def needs_key(route: APIRoute) -> bool:
    """The route asks for an API key: through ``authenticate``, or reading it itself (/v1/score says so in
    its ``openapi_extra``'s ``security``)."""
    return depends_on(route.dependant, authenticate) or "security" in (route.openapi_extra or {})


def depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(sub.call is call or depends_on(sub, call) for sub in dependant.dependencies)
