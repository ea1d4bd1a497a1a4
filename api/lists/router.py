"""Live lists: add, remove and query block / allow / watch entries (admin scope)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.exceptions import RequestValidationError

from api import audit
from api.audit import Action
from api.audit.diff import list_entry
from api.deps import ListsCaller, RuntimeDep
from api.errors import NotFound
from api.lists.schemas import ListEntryIn, ListEntryOut, ListPageOut, RemovedOut
from engine.features.keys import mask, normalize
from engine.features.spec import PII_ENTITIES, Entity, ListKind

router = APIRouter(prefix="/v1/lists", tags=["lists"])
Value = Annotated[
    str, Path(min_length=1, max_length=256, description="the raw value, e.g. a device id or 203.0.113.0/24")
]


@router.post("/entries", status_code=201, response_model=ListEntryOut, summary="Add or replace a list entry")
async def add_entry(body: ListEntryIn, runtime: RuntimeDep, caller: ListsCaller) -> ListEntryOut:
    entry = await runtime.guard.call(
        "lists",
        runtime.services.lists.add(
            tenant=caller.tenant,
            entity=body.entity,
            value=body.value,
            kind=body.kind,
            reason=body.reason,
            author=body.author or f"key:{caller.key_id}",
            expires_at=body.expires_at,
        ),
    )
    out = _out(entry)
    summary = list_entry(out.model_dump())
    await audit.record(runtime, caller, Action.LISTS_ADD, target=summary, diff={"list_entries": {"added": [summary]}})
    return out


@router.get("/entries", response_model=ListPageOut, summary="Page through live entries")
async def list_entries(
    runtime: RuntimeDep,
    caller: ListsCaller,
    kind: ListKind | None = None,
    entity: Entity | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,12}$")] = None,
) -> ListPageOut:
    page = await runtime.guard.call(
        "lists", runtime.services.lists.page(tenant=caller.tenant, kind=kind, entity=entity, limit=limit, cursor=cursor)
    )
    return ListPageOut(entries=[_out(e) for e in page.entries], next_cursor=page.next_cursor)


@router.get(
    "/entries/{entity}/{value:path}", response_model=list[ListEntryOut], summary="Every live entry of one value"
)
async def get_entries(entity: Entity, value: Value, runtime: RuntimeDep, caller: ListsCaller) -> list[ListEntryOut]:
    value = _path_value(entity, value)
    entries = await runtime.guard.call(
        "lists", runtime.services.lists.get(tenant=caller.tenant, entity=entity, value=value)
    )
    return [_out(e) for e in entries]


@router.delete(
    "/entries/{entity}/{value:path}",
    response_model=RemovedOut,
    summary="Remove the entry of one kind",
    responses={404: {"description": "no entry of that kind for that value"}},
)
async def remove_entry(
    entity: Entity, value: Value, kind: ListKind, runtime: RuntimeDep, caller: ListsCaller
) -> RemovedOut:
    value = _path_value(entity, value)
    removed = await runtime.guard.call(
        "lists", runtime.services.lists.remove(tenant=caller.tenant, entity=entity, value=value, kind=kind)
    )
    if not removed:
        raise NotFound(f"no {kind.value} entry for that {entity.value}")
    summary = f"{entity.value}:{kind.value}:{mask(entity, value) if entity in PII_ENTITIES else value}"
    await audit.record(
        runtime, caller, Action.LISTS_REMOVE, target=summary, diff={"list_entries": {"removed": [summary]}}
    )
    return RemovedOut(removed=True)


def _path_value(entity: Entity, value: str) -> str:
    """The path's value in the form events carry, or 422 naming ``value`` (``ip/0`` is no address)."""
    try:
        return normalize(entity, value)
    except ValueError as err:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("path", "value"), "msg": str(err), "input": value}]
        ) from None


def _out(entry: Any) -> ListEntryOut:
    data = asdict(entry)
    data["entity"], data["kind"] = entry.entity.value, entry.kind.value
    return ListEntryOut.model_validate(data)
