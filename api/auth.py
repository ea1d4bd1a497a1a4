"""API keys: each key belongs to one tenant (merchant) and carries scopes.

Configured as ``YUTANG_API_KEYS="key:tenant:score+events,key2:tenant2:admin"`` and/or
a keys file with one ``key:tenant:scopes`` per line (``#`` comments). Keys are kept
only as SHA-256 digests and compared through a dict of digests, so a timing probe
learns nothing about a key's prefix.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Scope(StrEnum):
    SCORE = "score"
    EVENTS = "events"
    ADMIN = "admin"


_TENANT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a tenant and what it may do."""

    tenant: str
    scopes: frozenset[Scope]
    key_id: str  # first hex digits of the key's digest, safe to log


class KeyConfigError(ValueError):
    """The configured keys cannot be parsed; the service refuses to start."""


class ApiKeys:
    """Lookup of presented keys -> Principal."""

    def __init__(self, principals: dict[str, Principal]) -> None:
        self._by_digest = principals

    @classmethod
    def parse(cls, spec: str, *, source: str = "YUTANG_API_KEYS") -> ApiKeys:
        """Parse ``key:tenant:scope+scope`` entries separated by commas or newlines."""
        principals: dict[str, Principal] = {}
        entries = [e.strip() for line in spec.splitlines() for e in line.split("#", 1)[0].split(",")]
        for number, entry in enumerate((e for e in entries if e), start=1):
            parts = entry.split(":")
            if len(parts) != 3:
                raise KeyConfigError(f"{source}: entry {number} must be key:tenant:scope+scope")
            key, tenant, scopes = parts
            if len(key) < 16:
                raise KeyConfigError(f"{source}: entry {number}: a key must be at least 16 characters")
            if not _TENANT.match(tenant):
                raise KeyConfigError(f"{source}: entry {number}: tenant {tenant!r} must match {_TENANT.pattern}")
            try:
                scope_set = frozenset(Scope(s) for s in scopes.split("+") if s)
            except ValueError:
                raise KeyConfigError(
                    f"{source}: entry {number}: scopes must be among {[s.value for s in Scope]}"
                ) from None
            digest = _digest(key)
            principals[digest] = Principal(tenant, scope_set, digest[:8])
        return cls(principals)

    @classmethod
    def load(cls, spec: str, path: Path | None) -> ApiKeys:
        keys = cls.parse(spec)
        if path is not None:
            keys._by_digest.update(cls.parse(path.read_text(encoding="utf-8"), source=str(path))._by_digest)
        return keys

    def lookup(self, key: str) -> Principal | None:
        return self._by_digest.get(_digest(key))

    @property
    def tenants(self) -> frozenset[str]:
        return frozenset(p.tenant for p in self._by_digest.values())

    def __len__(self) -> int:
        return len(self._by_digest)


def generate_dev_key(tenant: str = "dev") -> str:
    """A random key spec with every scope, for ``yutang serve`` without configured keys."""
    return f"yt_dev_{secrets.token_urlsafe(24)}:{tenant}:score+events+admin"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
