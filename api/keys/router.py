"""Keys of a tenant made, listed and revoked through the API; tenants; and who the caller is.

- ``POST /v1/keys`` (admin of the tenant, or platform naming it): a new key, shown
  once. Any role but ``platform`` (platform keys are configured only: a leaked admin
  key must not be able to mint a key for every tenant), and any data scopes.
- ``GET /v1/keys``: id, role, scopes, created, author of the tenant's keys, configured
  and made; never a key.
- ``DELETE /v1/keys/{key_id}``: the key is refused from the next request, on every
  worker. Configured keys are not revocable here (they live in the deployment's
  configuration): 409 saying so.
- ``GET /v1/tenants`` / ``POST /v1/tenants`` (platform): the tenants there are.
- ``GET /v1/whoami`` (any key): the tenant, role and scopes the key acts with.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api import audit
from api.audit import Action
from api.auth import TENANT_PATTERN, Principal, Role, Scope
from api.deps import KeysCaller, PlatformCaller, RuntimeDep, authenticate
from api.errors import ApiError, NotFound
from api.keys.schemas import CallerOut, KeyCreated, KeyRevoked, KeysOut, TenantOut, TenantsOut
from api.keys.store import MAX_KEYS, TooManyKeys

router = APIRouter(tags=["keys"])

KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{8,12}$", description="the id GET /v1/keys lists")]


class Conflict(ApiError):
    status = 409
    code = "conflict"


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = Field(default=None, description="admin, marketer or reviewer (platform keys are configured)")
    scopes: list[Scope] = Field(default_factory=list, max_length=2, description="data scopes: score, events")
    label: str = Field(default="", max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$", description="for people")

    @field_validator("role")
    @classmethod
    def _not_platform(cls, role: Role | None) -> Role | None:
        if role == Role.PLATFORM:
            raise ValueError("platform keys are configured (YUTANG_API_KEYS), never made through the API")
        return role

    @model_validator(mode="after")
    def _grants_something(self) -> KeyIn:
        if not self.scopes and self.role is None:
            raise ValueError("a key needs a role or at least one scope")
        return self


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(pattern=TENANT_PATTERN)


def _configured(principal: Principal) -> dict[str, Any]:
    return {
        "id": principal.key_id, "tenant": principal.tenant, "role": principal.role.value if principal.role else None,
        "scopes": sorted(s.value for s in principal.scopes), "created": None, "author": None, "label": "",
        "source": "config",
    }  # fmt: skip


@router.post(
    "/v1/keys",
    response_model=KeyCreated,
    status_code=201,
    summary="Make a key for the caller's tenant (the key is shown only now)",
    responses={409: {"description": f"the tenant has {MAX_KEYS} made keys: revoke some first"}},
)
async def create_key(body: KeyIn, runtime: RuntimeDep, caller: KeysCaller) -> dict[str, Any]:
    made = runtime.keystore.create(
        tenant=caller.tenant, role=body.role, scopes=frozenset(body.scopes), author=f"key:{caller.key_id}",
        label=body.label,
    )  # fmt: skip
    try:
        key, record = await runtime.guard.call("keys", made)
    except TooManyKeys:
        raise Conflict(f"tenant {caller.tenant} has {MAX_KEYS} made keys: revoke some first") from None
    await audit.record(runtime, caller, Action.KEYS_CREATE, target=record.id, **_grants(record.as_dict()))
    return {"key": key, **record.as_dict()}


@router.get(
    "/v1/keys", response_model=KeysOut, summary="The tenant's keys: id, role, scopes, created, author (never the key)"
)
async def list_keys(runtime: RuntimeDep, caller: KeysCaller) -> dict[str, Any]:
    made = await runtime.guard.call("keys", runtime.keystore.list(caller.tenant))
    configured = [_configured(p) for p in runtime.keys.of_tenant(caller.tenant)]
    return {"tenant": caller.tenant, "keys": configured + [r.as_dict() for r in made]}


@router.delete(
    "/v1/keys/{key_id}",
    response_model=KeyRevoked,
    summary="Revoke a key made through the API: refused from the next request on every worker",
    responses={404: {"description": "the tenant has no such key"}, 409: {"description": "a configured key"}},
)
async def revoke_key(key_id: KeyId, runtime: RuntimeDep, caller: KeysCaller) -> dict[str, Any]:
    if any(p.key_id == key_id for p in runtime.keys.of_tenant(caller.tenant)):
        raise Conflict(f"key {key_id} is configured (YUTANG_API_KEYS): remove it there and restart")
    record = await runtime.guard.call("keys", runtime.keystore.revoke(caller.tenant, key_id))
    if record is None:
        raise NotFound(f"tenant {caller.tenant} has no key {key_id}")
    await audit.record(runtime, caller, Action.KEYS_REVOKE, target=key_id, **_grants(record.as_dict()))
    return {"revoked": key_id}


@router.get(
    "/v1/tenants",
    response_model=TenantsOut,
    summary="Every tenant: named by configured keys or created through the API (platform)",
)
async def list_tenants(runtime: RuntimeDep, caller: PlatformCaller) -> dict[str, Any]:
    made = await runtime.guard.call("keys", runtime.keystore.created_tenants())
    configured = runtime.keys.tenants
    tenants = [{"tenant": t, "source": "config" if t in configured else "api"} for t in sorted(configured | made)]
    return {"tenants": tenants}


@router.post(
    "/v1/tenants",
    response_model=TenantOut,
    status_code=201,
    summary="Create a tenant (platform): it can then be named in X-Yutang-Tenant and given keys",
    responses={409: {"description": "the tenant exists, or one whose name differs only in case"}},
)
async def create_tenant(body: TenantIn, runtime: RuntimeDep, caller: PlatformCaller) -> dict[str, Any]:
    held = await runtime.guard.call("keys", runtime.keystore.add_tenant(body.tenant, runtime.keys.tenants))
    if held is not None:
        same = "exists" if held == body.tenant else f"differs from tenant {held} only in case: one name is one tenant"
        raise Conflict(f"tenant {body.tenant} {same}")
    for trail in {body.tenant, caller.home}:
        await audit.record(runtime, caller, Action.TENANTS_CREATE, tenant=trail, target=body.tenant)
    return {"tenant": body.tenant}


@router.get("/v1/whoami", response_model=CallerOut, summary="The tenant, role and scopes this key acts with")
async def whoami(caller: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    return {
        "tenant": caller.tenant, "key_tenant": caller.home, "key_id": caller.key_id, "role": caller.role_name,
        "scopes": sorted(s.value for s in caller.scopes), "abilities": sorted(a.value for a in caller.abilities),
        "source": caller.source,
    }  # fmt: skip


def _grants(record: dict[str, Any]) -> dict[str, Any]:
    return {"role": record["role"], "scopes": record["scopes"], "label": record["label"]}
