"""Block / allow / watch lists: reason, author, expiry, paging, and live hits in features."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from feature_backends import Backend
from feature_stream import START

from engine.events import Event
from engine.features.spec import Entity, ListFeature, ListKind

BLOCKED_PHONE = ListFeature("phone.blocked", Entity.PHONE, ListKind.BLOCK)
ALLOWED_DEVICE = ListFeature("device.allowed", Entity.DEVICE, ListKind.ALLOW)
WATCHED_SUBNET = ListFeature("subnet.watched", Entity.SUBNET, ListKind.WATCH)
SPECS = (BLOCKED_PHONE, ALLOWED_DEVICE, WATCHED_SUBNET)


def _signup(n: int, **fields: str) -> Event:
    return Event(event_id=f"l{n}", type="signup", customer=f"c{n}", timestamp=START, **fields)


async def test_list_entries_are_hit_live_and_can_be_removed(backend: Backend, tenant: str) -> None:
    store = backend.store()
    event = _signup(1, phone="+86 138-1234-5678".replace("+86 ", ""), device="shop-pad", ip="10.1.2.3")
    assert await store.read(tenant=tenant, event=event, specs=SPECS) == dict.fromkeys([s.name for s in SPECS], False)
    entry = await store.add_entry(tenant=tenant, entity=Entity.PHONE, value="138 1234 5678",
                                  kind=ListKind.BLOCK, reason="virtual number", author="li.na")  # fmt: skip
    await store.add_entry(tenant=tenant, entity=Entity.DEVICE, value="shop-pad", kind=ListKind.ALLOW,
                          reason="store's own tablet", author="li.na")  # fmt: skip
    await store.add_entry(tenant=tenant, entity=Entity.SUBNET, value="10.1.2.0/24", kind=ListKind.WATCH,
                          reason="proxy range", author="li.na")  # fmt: skip
    assert entry.hint == "138****5678" and entry.reason == "virtual number"
    values = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
    assert values == {"phone.blocked": True, "device.allowed": True, "subnet.watched": True}

    assert await store.remove_entry(tenant=tenant, entity=Entity.PHONE, value="13812345678", kind=ListKind.BLOCK)
    assert not await store.remove_entry(tenant=tenant, entity=Entity.PHONE, value="13812345678", kind=ListKind.BLOCK)
    assert (await store.read(tenant=tenant, event=_signup(2, phone="13812345678"), specs=SPECS))[
        "phone.blocked"
    ] is False


async def test_expired_entries_stop_matching(backend: Backend, tenant: str) -> None:
    store = backend.store()
    soon = datetime.now(UTC) + timedelta(milliseconds=300)
    await store.add_entry(tenant=tenant, entity=Entity.DEVICE, value="emu-1", kind=ListKind.ALLOW,
                          reason="trial", author="ops", expires_at=soon)  # fmt: skip
    event = _signup(3, device="emu-1")
    assert (await store.read(tenant=tenant, event=event, specs=SPECS))["device.allowed"] is True
    assert [e.kind for e in await store.get_entries(tenant=tenant, entity=Entity.DEVICE, value="emu-1")] == [
        ListKind.ALLOW
    ]
    await asyncio.sleep(0.4)
    assert (await store.read(tenant=tenant, event=event, specs=SPECS))["device.allowed"] is False
    assert await store.get_entries(tenant=tenant, entity=Entity.DEVICE, value="emu-1") == []


async def test_entries_page_by_kind_and_entity(backend: Backend, tenant: str) -> None:
    store = backend.store()
    for n in range(7):
        await store.add_entry(tenant=tenant, entity=Entity.DEVICE, value=f"farm-{n}", kind=ListKind.BLOCK,
                              reason="farm", author="ops")  # fmt: skip
    await store.add_entry(tenant=tenant, entity=Entity.PHONE, value="17012345678", kind=ListKind.WATCH,
                          reason="virtual segment", author="ops")  # fmt: skip
    seen, cursor = [], None
    while True:
        page = await store.list_entries(tenant=tenant, kind=ListKind.BLOCK, limit=3, cursor=cursor)
        seen.extend(e.hint for e in page.entries)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"farm-{n}" for n in range(7)]
    watched = await store.list_entries(tenant=tenant, entity=Entity.PHONE)
    assert [(e.kind, e.hint) for e in watched.entries] == [(ListKind.WATCH, "170****5678")]
    other = await store.list_entries(tenant=tenant + "x")
    assert other.entries == []


async def test_every_kind_of_one_entity_is_read_together(backend: Backend, tenant: str) -> None:
    """One HMGET reads block / allow / watch / store of a device: each flag keeps its own answer."""
    store = backend.store()
    specs = (*(ListFeature(f"device.{k.value}", Entity.DEVICE, k) for k in ListKind), BLOCKED_PHONE)
    past = datetime.now(UTC) - timedelta(minutes=1)
    await store.add_entry(tenant=tenant, entity=Entity.DEVICE, value="pad-9", kind=ListKind.BLOCK,
                          reason="farm", author="ops", expires_at=past)  # fmt: skip
    await store.add_entry(tenant=tenant, entity=Entity.DEVICE, value="pad-9", kind=ListKind.WATCH,
                          reason="odd hours", author="ops")  # fmt: skip
    event = _signup(9, device="pad-9")
    values = (await store.record_and_read(tenant=tenant, event=event, specs=specs)).values
    assert values == {
        "device.block": False, "device.allow": False, "device.watch": True, "device.store": False, "phone.blocked": None
    }  # fmt: skip
