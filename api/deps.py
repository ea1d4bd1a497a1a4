"""Request dependencies as ``Annotated`` aliases: the runtime and who is calling.

Who is calling, in three steps, for every route that needs a key:

1. the key (``Authorization: Bearer``) -> a :class:`Principal`: configured keys from
   memory, keys made through the API (``ytk~...``) with one HGET, so a revoked key is
   refused by the next request on any worker; 401 otherwise;
2. the tenant it acts on: its own, or, for a ``platform`` key only, the one named by
   ``X-Yutang-Tenant``. Any other key naming another tenant is 403, whatever the
   route: the header can never widen what a merchant's key reaches;
3. the :class:`Ability` the route needs (api/auth.py's tables), else 403 naming the
   ability, the roles and scopes that grant it, and the key's tenant and role.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from api.auth import TENANT_PATTERN, Ability, Principal, Role, holders
from api.errors import Forbidden, Unauthorized
from api.keys.store import tenant_of
from api.runtime import Runtime
from engine.logs import note
from engine.phones import use_region
from engine.rule_engine import BASE

TENANT_HEADER = "X-Yutang-Tenant"
_TENANT = re.compile(TENANT_PATTERN)


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


async def principal_for(runtime: Runtime, authorization: str | None, tenant: str | None = None) -> Principal:
    """The caller behind ``Authorization: Bearer <key>`` acting on its tenant (or the named one), or 401/403."""
    if not authorization:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("malformed Authorization header: expected 'Bearer <key>'")
    principal = runtime.keys.lookup(key)
    if principal is None and tenant_of(key) is not None:  # only a made key's shape is looked up in Redis
        principal = await runtime.guard.call("keys", runtime.keystore.lookup(key))
    if principal is None:
        raise Unauthorized("invalid API key (unknown or revoked)")
    acting = await acting_on(runtime, principal, tenant)
    note(tenant=acting.tenant)
    return acting


async def acting_on(runtime: Runtime, principal: Principal, tenant: str | None) -> Principal:
    """``principal`` on the tenant ``X-Yutang-Tenant`` names: only a platform key may name another one."""
    if tenant is None or tenant == principal.tenant:
        return principal
    if principal.role is not Role.PLATFORM:
        raise Forbidden(
            f"{principal.describe()} may not act on tenant {tenant[:64]!r}: only a platform key may name "
            f"another tenant in {TENANT_HEADER}",
            extra={"tenant": principal.tenant, "role": principal.role_name},
        )
    if not _TENANT.match(tenant):
        raise Forbidden(
            f"{TENANT_HEADER}: {tenant[:64]!r} is not a tenant name ({TENANT_PATTERN})",
            extra={"tenant": principal.tenant, "role": principal.role_name},
        )
    known = tenant in runtime.keys.tenants or await runtime.guard.call("keys", runtime.keystore.tenant_exists(tenant))
    if not known:
        raise Forbidden(
            f"{TENANT_HEADER}: tenant {tenant!r} is not known: create it with POST /v1/tenants",
            extra={"tenant": principal.tenant, "role": principal.role_name},
        )
    return principal.acting_on(tenant)


def check(principal: Principal, abilities: tuple[Ability, ...]) -> Principal:
    """``principal`` when it holds any of ``abilities``, else 403 naming what was missing."""
    if principal.abilities.isdisjoint(abilities):
        wanted = " or ".join(f"'{a.value}'" for a in abilities)
        granted = sorted({h for a in abilities for h in holders(a)})
        raise Forbidden(
            f"{principal.describe()} lacks the {wanted} permission, granted by {', '.join(granted)}",
            extra={
                "wanted": [a.value for a in abilities], "granted_by": granted,
                "tenant": principal.home, "role": principal.role_name,
            },
        )  # fmt: skip
    return principal


#: ``X-Yutang-Tenant`` is described once (api/app.py's description, docs/api.md), not as a parameter of every
#: operation: every answer it can cause is a 403, which each keyed operation documents already.
async def authenticate(
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_yutang_tenant: Annotated[str | None, Header(alias=TENANT_HEADER, include_in_schema=False)] = None,
) -> Principal:
    return await principal_for(runtime, authorization, x_yutang_tenant)


def require(*abilities: Ability) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through a caller holding any of ``abilities``, else 403.

    Async on purpose, like every dependency here: a plain ``def`` dependency runs in the
    thread pool, and three such hops doubled the CPU cost of a /v1/score request.
    """

    async def checked(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        return check(principal, abilities)

    return checked


ScoreCaller = Annotated[Principal, Depends(require(Ability.SCORE))]
EventsCaller = Annotated[Principal, Depends(require(Ability.EVENTS))]
ContactCaller = Annotated[Principal, Depends(require(Ability.SCORE, Ability.EVENTS))]
ReaderCaller = Annotated[Principal, Depends(require(Ability.READ))]
#: validate, reload, roll back, pack files, dry runs, console replays: admin, marketer, platform
RulesCaller = Annotated[Principal, Depends(require(Ability.RULES))]
#: what only a tenant's admin (or platform naming the tenant) may do; the same holders as lists, keys, audit
AdminCaller = Annotated[Principal, Depends(require(Ability.LISTS))]
ListsCaller = AdminCaller
ExportCaller = Annotated[Principal, Depends(require(Ability.EXPORT))]
KeysCaller = Annotated[Principal, Depends(require(Ability.KEYS))]
AuditCaller = Annotated[Principal, Depends(require(Ability.AUDIT))]
#: review cases and labels (/v1/cases): reviewer, admin, platform
ReviewerCaller = Annotated[Principal, Depends(require(Ability.REVIEW))]
PlatformCaller = Annotated[Principal, Depends(require(Ability.TENANTS))]
