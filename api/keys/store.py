"""API keys made through the API, and the tenants a platform key created, kept in Redis.

Layout (the tenant in the hash tag, like every key of that tenant):

- ``yt:{<tenant>:keys}:digests``: a hash, SHA-256 digest of a key -> JSON record (id,
  role, scopes, created, author, label). The key itself is never stored: it is shown
  once, when it is made.
- ``yt:{platform}:tenants``: a set of tenants created through ``POST /v1/tenants``
  (tenants named in the configured keys are known without it).
- ``yt:{platform}:tenant_names``: a hash, a created tenant's name case-folded -> its name,
  claimed (HSETNX) before the name joins the set: ``Acme`` and ``acme`` are one tenant's
  name, so a second tenant cannot be made that a person, a log search or a case-blind
  file system (the tenant's pack folder) confuses with the first, even by two
  platform calls at once on two workers.

A made key reads ``ytk~<tenant>~<random>``: ``~`` is outside the tenant alphabet, so
the key names the one hash to look in, and a lookup is one HGET. It is not cached: a
revoked key is refused by the very next request on every worker, whatever worker
revoked it. Configured keys never reach Redis (they are resolved in memory first),
so a storefront's configured ``score`` key costs nothing here.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from api.auth import TENANT_PATTERN, Principal, Role, Scope, key_digest
from engine.datastore.keys import PREFIX, safe_id
from engine.datastore.scripts import AnyRedis
from engine.datastore.tenants import CREATED_TENANTS, created_tenants

KEY_PREFIX = "ytk~"
TENANT_NAMES = f"{PREFIX}:{{platform}}:tenant_names"
#: made keys per tenant: a leaked admin key cannot grow a tenant's hash (and each revoke's scan) without bound
MAX_KEYS = 1_000
#: HSET the new key's digest unless the tenant already has ARGV[1] made keys: 1 if written.
_CREATE = """
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
"""
_TENANT = re.compile(TENANT_PATTERN)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What is kept of a made key, and what the listing shows."""

    id: str
    tenant: str
    role: Role | None
    scopes: frozenset[Scope]
    created: float
    author: str
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "tenant": self.tenant, "role": self.role.value if self.role else None,
            "scopes": sorted(s.value for s in self.scopes), "created": self.created, "author": self.author,
            "label": self.label, "source": "api",
        }  # fmt: skip

    def principal(self) -> Principal:
        return Principal(self.tenant, self.role, self.scopes, self.id, source="api")

    @classmethod
    def decode(cls, raw: bytes | str) -> KeyRecord:
        data = json.loads(raw)
        role = Role(data["role"]) if data.get("role") else None
        return cls(
            data["id"], data["tenant"], role, frozenset(Scope(s) for s in data["scopes"]),
            float(data["created"]), data["author"], data.get("label", ""),
        )  # fmt: skip


def _encode(record: KeyRecord) -> str:
    return json.dumps(record.as_dict(), separators=(",", ":"))


def tenant_of(key: str) -> str | None:
    """The tenant a made key names, or None for any other string."""
    if not key.startswith(KEY_PREFIX):
        return None
    tenant, sep, _ = key[len(KEY_PREFIX) :].partition("~")
    return tenant if sep and _TENANT.match(tenant) else None


class TooManyKeys(Exception):
    """The tenant already has ``MAX_KEYS`` made keys."""


class KeyStore:
    """Made keys per tenant (create, list, revoke, look up) and the tenant registry."""

    def __init__(self, client: AnyRedis) -> None:
        self.client = client

    @staticmethod
    def _hash(tenant: str) -> str:
        return f"{PREFIX}:{{{safe_id(tenant)}:keys}}:digests"

    async def create(
        self, *, tenant: str, role: Role | None, scopes: frozenset[Scope], author: str, label: str = ""
    ) -> tuple[str, KeyRecord]:
        """A new key of ``tenant``: (the key, shown only now; its record)."""
        key = f"{KEY_PREFIX}{tenant}~{secrets.token_urlsafe(32)}"
        digest = key_digest(key)
        record = KeyRecord(digest[:12], tenant, role, scopes, round(time.time(), 3), author, label)
        # counted and written in one script: a count read first let creates at once all pass it
        if not await self.client.eval(_CREATE, 1, self._hash(tenant), MAX_KEYS, digest, _encode(record)):
            raise TooManyKeys(tenant)
        return key, record

    async def lookup(self, key: str) -> Principal | None:
        """The principal of a made key that is still live, else None (one HGET)."""
        tenant = tenant_of(key)
        if tenant is None:
            return None
        raw = await self.client.hget(self._hash(tenant), key_digest(key))
        return KeyRecord.decode(raw).principal() if raw else None

    async def list(self, tenant: str) -> list[KeyRecord]:
        rows = await self.client.hvals(self._hash(tenant))
        return sorted((KeyRecord.decode(raw) for raw in rows), key=lambda r: (r.created, r.id))

    async def revoke(self, tenant: str, key_id: str) -> KeyRecord | None:
        """Remove the key with id ``key_id``; its record, or None when the tenant has no such key."""
        for digest, raw in (await self.client.hgetall(self._hash(tenant))).items():
            record = KeyRecord.decode(raw)
            if record.id == key_id and await self.client.hdel(self._hash(tenant), digest):
                return record
        return None

    async def created_tenants(self) -> set[str]:
        return await created_tenants(self.client)

    async def tenant_exists(self, tenant: str) -> bool:
        return bool(await self.client.sismember(CREATED_TENANTS, tenant))

    async def add_tenant(self, tenant: str, taken: Iterable[str] = ()) -> str | None:
        """Register ``tenant``; None when done, else the tenant (in ``taken`` or created) whose name it shares."""
        folded = tenant.casefold()
        for name in (*taken, *await self.created_tenants()):  # configured, and created before names were claimed
            if name.casefold() == folded:
                return name
        if not await self.client.hsetnx(TENANT_NAMES, folded, tenant):
            held = await self.client.hget(TENANT_NAMES, folded)
            return held.decode() if isinstance(held, bytes) else str(held)
        await self.client.sadd(CREATED_TENANTS, tenant)
        return None
