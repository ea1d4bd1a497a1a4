"""Request dependencies as ``Annotated`` aliases: the runtime and who is calling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from api.auth import Principal, Scope
from api.errors import Forbidden, Unauthorized
from api.runtime import Runtime
from engine.phones import use_region
from engine.rule_engine import BASE


async def get_runtime(request: Request) -> Runtime:
    """The app's runtime; also reads this request's phones in the serving pack's region.

    FastAPI solves dependencies before it validates the body, so an ``Event`` body is
    parsed with the region set here (engine/phones.py).
    """
    runtime: Runtime = request.app.state.runtime
    principal = _caller(runtime, request.headers.get("authorization"))
    use_region(runtime.rulesets.of(principal.tenant if principal else BASE).ruleset.phone_region)
    return runtime


def _caller(runtime: Runtime, authorization: str | None) -> Principal | None:
    """The caller if its key is valid (its tenant's pack decides the phone region), else None: 401 comes later."""
    scheme, _, key = (authorization or "").partition(" ")
    return runtime.keys.lookup(key.strip()) if scheme.lower() == "bearer" and key.strip() else None


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def principal_for(runtime: Runtime, authorization: str | None) -> Principal:
    """The caller behind ``Authorization: Bearer <key>``, or 401."""
    if not authorization:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("malformed Authorization header: expected 'Bearer <key>'")
    principal = runtime.keys.lookup(key.strip())
    if principal is None:
        raise Unauthorized("invalid API key")
    return principal


def check_scopes(principal: Principal, scopes: tuple[Scope, ...]) -> Principal:
    """``principal`` when it holds any of ``scopes``, else 403."""
    if principal.scopes.isdisjoint(scopes):
        held = "+".join(sorted(s.value for s in principal.scopes)) or "none"
        wanted = " or ".join(f"'{s.value}'" for s in scopes)
        raise Forbidden(f"this API key (tenant {principal.tenant}, scopes {held}) lacks the {wanted} scope")
    return principal


async def authenticate(
    runtime: RuntimeDep, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
) -> Principal:
    return principal_for(runtime, authorization)


def require(*scopes: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through a caller holding any of ``scopes``, else 403.

    Async on purpose, like every dependency here: a plain ``def`` dependency runs in the
    thread pool, and three such hops doubled the CPU cost of a /v1/score request.
    """

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        return check_scopes(principal, scopes)

    return check


ScoreCaller = Annotated[Principal, Depends(require(Scope.SCORE))]
EventsCaller = Annotated[Principal, Depends(require(Scope.EVENTS))]
AdminCaller = Annotated[Principal, Depends(require(Scope.ADMIN))]
ReaderCaller = Annotated[Principal, Depends(require(Scope.SCORE, Scope.EVENTS, Scope.ADMIN))]
ContactCaller = Annotated[Principal, Depends(require(Scope.SCORE, Scope.EVENTS))]
