"""API keys: each key belongs to one tenant (merchant), carries at most one role and any data scopes.

Configured as ``YUTANG_API_KEYS="key:tenant:grant+grant,..."`` and/or a keys file with
one ``key:tenant:grants`` per line (``#`` comments). A grant is a role (``platform``,
``admin``, ``marketer``, ``reviewer``; at most one per key) or a data scope (``score``,
``events``), so today's ``key:tenant:score+events+admin`` keeps its meaning. Keys made
through the API (api/keys/) join these at run time; the configured ones are the
bootstrap. Keys are kept only as SHA-256 digests and compared through a dict of
digests, so a timing probe learns nothing about a key's prefix.

What each role and scope may do is :data:`ROLE_ABILITIES` / :data:`SCOPE_ABILITIES`:
a route asks for an :class:`Ability`, never for a role, so the table here is the one
place that decides who may do what (docs/api.md prints it).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache
from pathlib import Path


class Role(StrEnum):
    PLATFORM = "platform"  # the deployment's operator: base pack, tenants; any tenant it names
    ADMIN = "admin"  # a merchant's administrator: its rules, lists, keys, settings, audit
    MARKETER = "marketer"  # edits, validates and reloads its tenant's rules; reads reports
    REVIEWER = "reviewer"  # review cases and labels


class Scope(StrEnum):
    """Data scopes: what a storefront's key sends."""

    SCORE = "score"
    EVENTS = "events"


class Ability(StrEnum):
    """What a route needs; granted by roles and scopes through the tables below."""

    SCORE = "score"  # POST /v1/score, open and join group-buys
    EVENTS = "events"  # POST /v1/events
    READ = "read"  # the tenant's rules, customers, reports, group-buys, journeys
    RULES = "rules"  # validate, reload, roll back, pack files, dry runs, console replays
    LISTS = "lists"  # live block / allow / watch entries
    KEYS = "keys"  # create, list, revoke the tenant's API keys
    AUDIT = "audit"  # read the audit trail
    EXPORT = "export"  # recorded events, webhook delivery logs
    REVIEW = "review"  # review cases and labels (/v1/cases)
    TENANTS = "tenants"  # list and create tenants


_ADMIN = frozenset(Ability) - {Ability.SCORE, Ability.EVENTS, Ability.TENANTS}
ROLE_ABILITIES: dict[Role, frozenset[Ability]] = {
    Role.PLATFORM: _ADMIN | {Ability.TENANTS},
    Role.ADMIN: _ADMIN,
    Role.MARKETER: frozenset({Ability.READ, Ability.RULES}),
    Role.REVIEWER: frozenset({Ability.READ, Ability.REVIEW}),
}
SCOPE_ABILITIES: dict[Scope, frozenset[Ability]] = {
    Scope.SCORE: frozenset({Ability.SCORE, Ability.READ}),
    Scope.EVENTS: frozenset({Ability.EVENTS, Ability.READ}),
}

#: A tenant name is one plain path segment and one hash-tag id: it starts with a letter or digit, so ``.`` and
#: ``..`` (which named ``rules/tenants/`` itself, every tenant's packs, or the base's folder) and hidden or
#: option-like names (``.x``, ``-x``) are no tenant's.
TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_TENANT = re.compile(TENANT_PATTERN)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant the request acts on, the key's role, scopes and id."""

    tenant: str
    role: Role | None
    scopes: frozenset[Scope]
    key_id: str  # first hex digits of the key's digest, safe to log
    home: str = ""  # the key's own tenant; differs from ``tenant`` only for a platform key naming one
    source: str = "config"  # config (YUTANG_API_KEYS / file) or api (made through /v1/keys)

    def __post_init__(self) -> None:
        if not self.home:
            object.__setattr__(self, "home", self.tenant)

    @property
    def abilities(self) -> frozenset[Ability]:
        return _abilities(self.role, self.scopes)

    @property
    def role_name(self) -> str:
        return self.role.value if self.role else "none"

    def acting_on(self, tenant: str) -> Principal:
        """This key acting on ``tenant`` (only ever asked for a platform key)."""
        return replace(self, tenant=tenant)

    def describe(self) -> str:
        """What a 401/403 names: the key's id, tenant, role and scopes (never the key)."""
        scopes = "+".join(sorted(s.value for s in self.scopes)) or "none"
        acting = f", acting on tenant {self.tenant}" if self.tenant != self.home else ""
        return f"API key {self.key_id} (tenant {self.home}, role {self.role_name}, scopes {scopes}{acting})"


@lru_cache(maxsize=64)  # a handful of (role, scopes) pairs: asked on every request (check), ~36 µs of it before
def _abilities(role: Role | None, scopes: frozenset[Scope]) -> frozenset[Ability]:
    """What a role and scopes grant together (the enum members' hashes are Python calls: union once)."""
    held = ROLE_ABILITIES[role] if role else frozenset()
    return held.union(*(SCOPE_ABILITIES[s] for s in scopes))


def holders(ability: Ability) -> list[str]:
    """The roles and scopes that grant ``ability``, as a 403 names them."""
    roles = [f"role {r.value}" for r, held in ROLE_ABILITIES.items() if ability in held]
    scopes = [f"scope {s.value}" for s, held in SCOPE_ABILITIES.items() if ability in held]
    return roles + scopes


class KeyConfigError(ValueError):
    """The configured keys cannot be parsed; the service refuses to start."""


def parse_grants(grants: str) -> tuple[Role | None, frozenset[Scope]]:
    """``admin+score`` -> (Role.ADMIN, {score}); ValueError naming what is wrong."""
    role: Role | None = None
    scopes: set[Scope] = set()
    for grant in (g for g in grants.split("+") if g):
        if grant in {s.value for s in Scope}:
            scopes.add(Scope(grant))
        elif grant in {r.value for r in Role}:
            if role is not None and role != grant:
                raise ValueError(f"one role per key (got {role.value} and {grant})")
            role = Role(grant)
        else:
            raise ValueError(f"{grant!r} is neither a role ({', '.join(Role)}) nor a scope ({', '.join(Scope)})")
    return role, frozenset(scopes)


class ApiKeys:
    """Lookup of configured keys -> Principal."""

    def __init__(self, principals: dict[str, Principal]) -> None:
        self._by_digest = principals

    @classmethod
    def parse(cls, spec: str, *, source: str = "YUTANG_API_KEYS") -> ApiKeys:
        """Parse ``key:tenant:grant+grant`` entries separated by commas or newlines."""
        principals: dict[str, Principal] = {}
        entries = [e.strip() for line in spec.splitlines() for e in line.split("#", 1)[0].split(",")]
        for number, entry in enumerate((e for e in entries if e), start=1):
            parts = entry.split(":")
            if len(parts) != 3:
                raise KeyConfigError(f"{source}: entry {number} must be key:tenant:role+scope")
            key, tenant, grants = parts
            if len(key) < 16:
                raise KeyConfigError(f"{source}: entry {number}: a key must be at least 16 characters")
            if not _TENANT.match(tenant):
                raise KeyConfigError(f"{source}: entry {number}: tenant {tenant!r} must match {_TENANT.pattern}")
            try:
                role, scopes = parse_grants(grants)
            except ValueError as err:
                raise KeyConfigError(f"{source}: entry {number}: {err}") from None
            digest = key_digest(key)
            principals[digest] = Principal(tenant, role, scopes, digest[:8])
        return cls(principals)

    @classmethod
    def load(cls, spec: str, path: Path | None, *, data_dir: Path | None = None) -> ApiKeys:
        """The configured keys; with none configured, the development key ``yutang serve`` keeps in ``data_dir``.

        ``yutang serve`` hands its workers the development key through the environment;
        ``yutang worker`` is started on its own and finds it in the data directory, so it
        goes over the same tenant as the server.
        """
        keys = cls.parse(spec)
        if path is not None:
            keys._by_digest.update(cls.parse(path.read_text(encoding="utf-8"), source=str(path))._by_digest)
        dev_key = data_dir / DEV_KEY_FILE if data_dir is not None else None
        if not spec and path is None and dev_key is not None and dev_key.is_file():
            keys = cls.parse(dev_key.read_text(encoding="utf-8"), source=str(dev_key))
        return keys

    def lookup(self, key: str) -> Principal | None:
        return self._by_digest.get(key_digest(key))

    def of_tenant(self, tenant: str) -> list[Principal]:
        """The configured keys of ``tenant`` (for the keys listing; never the key itself)."""
        return sorted((p for p in self._by_digest.values() if p.tenant == tenant), key=lambda p: p.key_id)

    @property
    def tenants(self) -> frozenset[str]:
        return frozenset(p.tenant for p in self._by_digest.values())

    def __len__(self) -> int:
        return len(self._by_digest)


#: where ``yutang serve`` keeps the development key it makes when no key is configured
DEV_KEY_FILE = "dev-api-key"


def generate_dev_key(tenant: str = "dev") -> str:
    """A random key spec with every scope, for ``yutang serve`` without configured keys."""
    return f"yt_dev_{secrets.token_urlsafe(24)}:{tenant}:score+events+admin"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
