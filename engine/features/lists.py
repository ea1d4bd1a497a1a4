"""Live block / allow / watch lists of any entity kind, with reason, author and expiry.

An entry lives in its entity's slot, ``yt:{<tenant>:<ns>:<id>}:list``, a hash with
``<kind>`` = expiry (ms, ``0`` = never) and ``<kind>:m`` = JSON metadata (reason,
author, created_at, expires_at and a display ``hint``). The id is the same keyed hash
events use, so a listed phone matches events without the phone ever being stored:
the hint of a personal value is masked (``138****5678``); other values are shown.
Reading an entity's ``.blocked`` / ``.allowed`` / ``.watched`` features is one HMGET in
the script of that entity's slot.

A per-tenant sorted set ``yt:{<tenant>:lists}:idx`` (member ``kind|entity|id``,
scored by creation) lets the admin API page through entries; expired ones are
skipped while paging. Entries without an expiry are kept for
``list_default_ttl_s`` (ten years by default) after their last change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.datastore.scripts import AnyRedis, Call, Script, guarded, run_batch, run_one
from engine.features.builder import RequestBuilder, StoreSettings
from engine.features.keys import KeyBuilder, mask, normalize
from engine.features.plan import ListRead
from engine.features.spec import PII_ENTITIES, Entity, ListKind

LIST_SCRIPT = Script.load("engine.features", "list_entry.lua")


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One live list entry as the admin API shows it (never the raw personal value)."""

    entity: Entity
    kind: ListKind
    entry_id: str  # the keyed hash (or id) under which the value is stored
    hint: str  # masked value for personal data, the value itself otherwise
    reason: str
    author: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ListPage:
    entries: list[ListEntry]
    next_cursor: str | None  # pass back to get the next page; None at the end


def emit(builder: RequestBuilder, reads: ListRead) -> None:
    """Add the op reading whether the event's value of ``reads.entity`` is listed now (each kind asked)."""
    located = builder.locate(reads.entity)
    if located is None:
        return
    tag = located[1]
    batch = builder.batch(tag)
    batch.owned.extend(reads.indices)
    batch.ops.extend(("LS", batch.key(f"{tag}:list"), len(reads.indices)))
    batch.ops.extend(reads.pairs)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _now_ms() -> int:
    return _ms(datetime.now(UTC))


class ListStore:
    """Admin operations on the live lists of every tenant."""

    def __init__(self, client: AnyRedis, keys: KeyBuilder, settings: StoreSettings) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings

    def _locate(self, tenant: str, entity: Entity, value: str) -> tuple[str, str, str]:
        """Normalized value, its id and its list key."""
        normalized = normalize(entity, value)
        entity_id = self._keys.entity_id(tenant, entity, normalized)
        return normalized, entity_id, f"{self._keys.tag(tenant, entity, entity_id)}:list"

    async def add(
        self,
        *,
        tenant: str,
        entity: Entity,
        value: str,
        kind: ListKind,
        reason: str,
        author: str,
        expires_at: datetime | None = None,
        cause: str = "",
    ) -> ListEntry:
        """Add (or replace) the ``kind`` entry of ``value`` (``cause``: see :meth:`add_ids`)."""
        (entry,) = await self.add_values(
            tenant=tenant, values=[(entity, value, cause)], kind=kind, reason=reason, author=author,
            expires_at=expires_at,
        )  # fmt: skip
        return entry

    async def add_values(
        self,
        *,
        tenant: str,
        values: Sequence[tuple[Entity, str, str]],
        kind: ListKind,
        reason: str,
        author: str,
        expires_at: datetime | None = None,
    ) -> list[ListEntry]:
        """:meth:`add` of several ``(entity, value, cause)`` in one round trip (a denied checkout's payer, wallet)."""
        now, entries, calls = datetime.now(UTC), [], []
        for entity, value, cause in values:
            normalized, entity_id, _ = self._locate(tenant, entity, value)
            hint = mask(entity, normalized) if entity in PII_ENTITIES else normalized
            entry = ListEntry(entity, kind, entity_id, hint, reason, author, now, expires_at)
            entries.append(entry)
            calls += self._add_calls(tenant, entry, cause)
        if calls:
            await run_batch(self._client, calls)
        return entries

    async def add_ids(
        self,
        *,
        tenant: str,
        ids: Sequence[tuple[Entity, str, str]],
        kind: ListKind,
        reason: str,
        author: str,
        cause: str,
    ) -> list[ListEntry]:
        """Add entries by stored id, ``(entity, id, hint)``, in one round trip, tagged with ``cause``.

        For values the store only knows as ids (a customer's known devices and hashed
        phones): the raw value was never kept, so the hint says where the id came from.
        ``cause`` lets :meth:`remove_caused` lift exactly these entries later.
        """
        now = datetime.now(UTC)
        entries = [ListEntry(e, kind, entity_id, hint, reason, author, now, None) for e, entity_id, hint in ids]
        if entries:
            await run_batch(self._client, [c for e in entries for c in self._add_calls(tenant, e, cause)])
        return entries

    async def remove_caused(
        self, *, tenant: str, ids: Sequence[tuple[Entity, str]], kind: ListKind, cause: str
    ) -> list[tuple[Entity, str]]:
        """Remove the ``kind`` entries of ``ids`` that ``cause`` put there (not ones replaced since); those removed."""
        keys = [f"{self._keys.tag(tenant, entity, entity_id)}:list" for entity, entity_id in ids]
        if not keys:
            return []
        async with guarded("list read"), self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(key, f"{kind.value}:m")
            metas = await pipe.execute()
        mine = [(ident, key) for ident, key, meta in zip(ids, keys, metas, strict=True) if _caused(meta, cause)]
        ttl = self._settings.list_default_ttl_s * 1000
        calls = [Call(LIST_SCRIPT, [key], ["remove", kind.value, 0, "", ttl, _now_ms()]) for _, key in mine]
        index = self._keys.list_index_key(tenant)
        if mine:
            await run_batch(self._client, calls)
            async with guarded("list index"):
                await self._client.zrem(index, *(f"{kind.value}|{e.value}|{i}" for (e, i), _ in mine))
        return [ident for ident, _ in mine]

    def _add_calls(self, tenant: str, entry: ListEntry, cause: str = "") -> list[Call]:
        """The entity's list write and the tenant index write of one entry."""
        key = f"{self._keys.tag(tenant, entry.entity, entry.entry_id)}:list"
        now = _ms(entry.created_at)
        expires = 0 if entry.expires_at is None else _ms(entry.expires_at)
        ttl = self._settings.list_default_ttl_s * 1000
        meta = json.dumps(_meta(entry) | ({"cause": cause} if cause else {}), ensure_ascii=False)
        member = f"{entry.kind.value}|{entry.entity.value}|{entry.entry_id}"
        index = self._keys.list_index_key(tenant)
        return [
            Call(LIST_SCRIPT, [key], ["add", entry.kind.value, expires, meta, ttl, now]),
            Call(LIST_SCRIPT, [index], ["index", member, expires, "", ttl, now]),
        ]

    async def remove(self, *, tenant: str, entity: Entity, value: str, kind: ListKind) -> bool:
        """Remove the ``kind`` entry of ``value``; False when there was none."""
        _, entity_id, key = self._locate(tenant, entity, value)
        ttl = self._settings.list_default_ttl_s * 1000
        removed = await run_one(self._client, Call(LIST_SCRIPT, [key], ["remove", kind.value, 0, "", ttl, _now_ms()]))
        async with guarded("list index"):
            await self._client.zrem(self._keys.list_index_key(tenant), f"{kind.value}|{entity.value}|{entity_id}")
        return bool(removed)

    async def get(self, *, tenant: str, entity: Entity, value: str) -> list[ListEntry]:
        """Every live entry (block, allow, watch) of one value."""
        _, entity_id, key = self._locate(tenant, entity, value)
        async with guarded("list read"):
            stored = await self._client.hgetall(key)
        return _live_entries(entity, entity_id, stored, _now_ms())

    async def page(
        self,
        *,
        tenant: str,
        kind: ListKind | None = None,
        entity: Entity | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> ListPage:
        """Live entries, oldest first, optionally of one kind / entity kind."""
        index = self._keys.list_index_key(tenant)
        offset = int(cursor or 0)
        found: list[ListEntry] = []
        now = _now_ms()
        while len(found) < limit:
            need = limit - len(found)  # each index member yields at most one entry
            async with guarded("list index"):
                members = await self._client.zrange(index, offset, offset + need - 1)
            if not members:
                return ListPage(found, None)
            offset += len(members)
            found.extend(await self._resolve(tenant, members, kind, entity, now))
        return ListPage(found, str(offset))

    async def _resolve(
        self,
        tenant: str,
        members: Sequence[Any],
        kind: ListKind | None,
        entity: Entity | None,
        now: int,
    ) -> list[ListEntry]:
        wanted: list[tuple[Entity, ListKind, str]] = []
        for raw in members:
            text = raw.decode() if isinstance(raw, bytes) else raw
            kind_name, entity_name, entity_id = text.split("|", 2)
            item = (Entity(entity_name), ListKind(kind_name), entity_id)
            if (kind is None or item[1] is kind) and (entity is None or item[0] is entity):
                wanted.append(item)
        async with guarded("list read"), self._client.pipeline(transaction=False) as pipe:
            for item_entity, _, entity_id in wanted:
                pipe.hgetall(f"{self._keys.tag(tenant, item_entity, entity_id)}:list")
            stored = await pipe.execute()
        entries: list[ListEntry] = []
        for (item_entity, item_kind, entity_id), fields in zip(wanted, stored, strict=True):
            live = [e for e in _live_entries(item_entity, entity_id, fields, now) if e.kind is item_kind]
            entries.extend(live)
        return entries


def _meta(entry: ListEntry) -> dict[str, str | None]:
    return {
        "reason": entry.reason,
        "author": entry.author,
        "hint": entry.hint,
        "created_at": entry.created_at.isoformat(),
        "expires_at": None if entry.expires_at is None else entry.expires_at.isoformat(),
    }


def _caused(meta: Any, cause: str) -> bool:
    if meta is None:
        return False
    text = meta.decode() if isinstance(meta, bytes) else str(meta)
    return bool(json.loads(text).get("cause") == cause)


def _live_entries(entity: Entity, entity_id: str, stored: Mapping[Any, Any], now: int) -> list[ListEntry]:
    fields = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in stored.items()
    }
    entries: list[ListEntry] = []
    for kind in ListKind:
        expires, meta = fields.get(kind.value), fields.get(f"{kind.value}:m")
        if expires is None or meta is None or (expires != "0" and int(expires) <= now):
            continue
        data = json.loads(meta)
        entries.append(
            ListEntry(
                entity=entity,
                kind=kind,
                entry_id=entity_id,
                hint=data["hint"],
                reason=data["reason"],
                author=data["author"],
                created_at=datetime.fromisoformat(data["created_at"]),
                expires_at=None if data["expires_at"] is None else datetime.fromisoformat(data["expires_at"]),
            )
        )
    return entries
