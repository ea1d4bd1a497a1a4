"""The store-device register: a merchant's own counter devices, with author and expiry (admin scope).

A registered device is the device's ``store`` list entry (engine.features.lists), so the
pack reads it as ``device.is_store`` in the same list read as ``device.blocked``: no
extra Redis work per event. Per tenant, like every list.

What it trusts: a device id is the storefront's claim, so registering one says "events
naming this id come from our counter". The shipped pack therefore lets a store device
offset only the many-accounts-on-one-device rules of *sign-ups*; a block-list hit still
denies, and the registration expires (``expires_at``) when the tablet is retired.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import AdminCaller, RuntimeDep
from api.devices.schemas import StoreDeviceIn, StoreDeviceOut, StoreDevicePageOut
from api.errors import NotFound
from engine.events import ID_PATTERN
from engine.features.lists import ListEntry
from engine.features.spec import Entity, ListKind

router = APIRouter(prefix="/v1/devices", tags=["devices"])
DeviceId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN, description="the device id")]


@router.post("", status_code=201, response_model=StoreDeviceOut, summary="Register a store (counter) device")
async def register(body: StoreDeviceIn, runtime: RuntimeDep, caller: AdminCaller) -> StoreDeviceOut:
    entry = await runtime.guard.call(
        "lists",
        runtime.services.lists.add(
            tenant=caller.tenant,
            entity=Entity.DEVICE,
            value=body.device,
            kind=ListKind.STORE,
            reason=body.label,
            author=body.author or f"key:{caller.key_id}",
            expires_at=body.expires_at,
        ),
    )
    return _out(entry)


@router.get("", response_model=StoreDevicePageOut, summary="Page through the registered store devices")
async def list_devices(
    runtime: RuntimeDep,
    caller: AdminCaller,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,12}$")] = None,
) -> StoreDevicePageOut:
    page = await runtime.guard.call(
        "lists",
        runtime.services.lists.page(
            tenant=caller.tenant, kind=ListKind.STORE, entity=Entity.DEVICE, limit=limit, cursor=cursor
        ),
    )
    return StoreDevicePageOut(devices=[_out(e) for e in page.entries], next_cursor=page.next_cursor)


@router.get(
    "/{device}",
    response_model=StoreDeviceOut,
    summary="One registered store device",
    responses={404: {"description": "the device is not registered (or its registration expired)"}},
)
async def get_device(device: DeviceId, runtime: RuntimeDep, caller: AdminCaller) -> StoreDeviceOut:
    entries = await runtime.guard.call(
        "lists", runtime.services.lists.get(tenant=caller.tenant, entity=Entity.DEVICE, value=device)
    )
    found = next((e for e in entries if e.kind is ListKind.STORE), None)
    if found is None:
        raise NotFound("that device is not a registered store device")
    return _out(found)


@router.delete(
    "/{device}",
    status_code=204,
    summary="Retire a store device",
    responses={404: {"description": "the device is not registered"}},
)
async def retire(device: DeviceId, runtime: RuntimeDep, caller: AdminCaller) -> None:
    removed = await runtime.guard.call(
        "lists",
        runtime.services.lists.remove(tenant=caller.tenant, entity=Entity.DEVICE, value=device, kind=ListKind.STORE),
    )
    if not removed:
        raise NotFound("that device is not a registered store device")


def _out(entry: ListEntry) -> StoreDeviceOut:
    return StoreDeviceOut(
        device=entry.hint,
        label=entry.reason,
        author=entry.author,
        created_at=entry.created_at,
        expires_at=entry.expires_at,
    )
