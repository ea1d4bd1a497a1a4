"""Each tenant's published rule set and kept versions in Redis: what survives a restart.

One record per version a tenant ran: its files (the base's and the tenant's own), when,
who (a key id), from where (``startup``, ``api``, ``watcher``, ``rollback``) and its
counts. Keys, each with the tenant in its hash tag (the base pack under ``*``, which no
tenant id can spell):

- ``yt:{rules:<tenant>}:pub``: the record running now (a generation id beside it);
- ``yt:{rules:<tenant>}:hist``: version -> record, the newest ``keep`` versions;
- ``yt:{rules:files}:<digest>``: a base pack's files, stored once however many tenants
  and versions run on it (a record names it by ``base_ref``: 1,000 tenants' histories
  do not hold 5,000 copies of the platform's pack);
- ``yt:{rules:<tenant>}:edit``: held (with an expiry) while one save of a single file
  compiles, so two editors' saves from one version, on any two workers, run one
  after the other and the second finds its version stale (api/admin/editing.py);
- ``yt:{rules}:gen``: tenant -> generation of its publication, and ``yt:{rules}:seq``,
  bumped after every publication, so a worker's poll is one GET while nothing changed
  and one HGETALL of short strings when something did (1,000 tenants: ~40 KB).

Writes go record first, then generation, then sequence: a worker that sees the new
sequence finds the record already there.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.model import CompiledRuleSet, Mode
from engine.rule_engine import BASE, LoadedRuleSet

SEQ_KEY = "yt:{rules}:seq"
GEN_KEY = "yt:{rules}:gen"
SOURCES = ("startup", "api", "watcher", "rollback")
#: Sources whose record a restart keeps running (a deliberate act after the directory was last read).
STICKY = frozenset({"api", "rollback"})


def _tag(tenant: str) -> str:
    return "*" if tenant == BASE else tenant


def pub_key(tenant: str) -> str:
    return f"yt:{{rules:{_tag(tenant)}}}:pub"


def hist_key(tenant: str) -> str:
    return f"yt:{{rules:{_tag(tenant)}}}:hist"


def edit_key(tenant: str) -> str:
    return f"yt:{{rules:{_tag(tenant)}}}:edit"


#: Delete the edit lock only if this holder still has it (it may have expired and been taken since).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@dataclass
class VersionRecord:
    """One version a tenant ran, as published: enough to run it again anywhere."""

    version: str
    at: float
    author: str | None  # the key id of the caller (never the key); None for start-up and the watcher
    source: str
    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    tenant_files: dict[str, str] = field(default_factory=dict)
    generation: str = ""
    previous: str | None = None
    base_ref: str = ""
    name: str = ""
    shadow_rules: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The record without its text (what ``GET /v1/rules/versions`` lists)."""
        return {
            "version": self.version,
            "at": self.at,
            "author": self.author,
            "source": self.source,
            "previous": self.previous,
            "counts": self.counts,
            "name": self.name,
            "rules": self.counts.get("active", 0) + self.counts.get("shadow", 0),
            "shadow_rules": self.shadow_rules,
            "files": sorted(self.files),
            "tenant_files": sorted(self.tenant_files),
        }

    def dump(self) -> str:
        """JSON without the base's files (stored once under ``base_ref``)."""
        return json.dumps({**asdict(self), "files": {}}, ensure_ascii=False)

    @classmethod
    def parse(cls, raw: str | bytes) -> VersionRecord:
        data = json.loads(raw)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def files_key(ref: str) -> str:
    return f"yt:{{rules:files}}:{ref}"


def files_ref(files: Mapping[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(files.items()), ensure_ascii=False).encode())
    return digest.hexdigest()[:24]


class RuleStore:
    """Publication and history of every tenant's rule sets on one Redis client."""

    def __init__(self, redis: Any, *, keep: int = 5) -> None:
        self.redis = redis
        self.keep = keep

    async def publish(self, tenant: str, record: VersionRecord) -> str:
        """Make ``record`` the tenant's published set and keep it in its history; returns the generation."""
        record.generation = uuid.uuid4().hex
        record.base_ref = files_ref(record.files)
        await self.redis.set(files_key(record.base_ref), json.dumps(record.files, ensure_ascii=False), nx=True)
        text = record.dump()
        await self.redis.hset(hist_key(tenant), record.version, text)
        await self._trim(tenant)
        await self.redis.set(pub_key(tenant), text)
        await self.redis.hset(GEN_KEY, _tag(tenant), record.generation)
        await self.redis.incr(SEQ_KEY)
        return record.generation

    async def hold_edit(self, tenant: str, ttl_ms: int) -> str | None:
        """Take ``tenant``'s edit lock for at most ``ttl_ms``: its token, or None while another save holds it."""
        token = uuid.uuid4().hex
        return token if await self.redis.set(edit_key(tenant), token, nx=True, px=ttl_ms) else None

    async def release_edit(self, tenant: str, token: str) -> None:
        await self.redis.eval(_RELEASE, 1, edit_key(tenant), token)

    async def sequence(self) -> str | None:
        raw = await self.redis.get(SEQ_KEY)
        return raw.decode() if isinstance(raw, bytes) else raw

    async def generations(self) -> dict[str, str]:
        """tenant -> generation of its latest publication (the base under BASE)."""
        raw = await self.redis.hgetall(GEN_KEY)
        found = {_text(k): _text(v) for k, v in raw.items()}
        return {(BASE if k == "*" else k): v for k, v in found.items()}

    async def published(self, tenant: str) -> VersionRecord | None:
        raw = await self.redis.get(pub_key(tenant))
        return await self._with_files(VersionRecord.parse(raw)) if raw else None

    async def history(self, tenant: str) -> list[VersionRecord]:
        """The tenant's kept versions, oldest first."""
        raw = await self.redis.hgetall(hist_key(tenant))
        return sorted((VersionRecord.parse(v) for v in raw.values()), key=lambda r: r.at)

    async def find(self, tenant: str, version: str) -> VersionRecord | None:
        raw = await self.redis.hget(hist_key(tenant), version)
        return await self._with_files(VersionRecord.parse(raw)) if raw else None

    async def _with_files(self, record: VersionRecord) -> VersionRecord:
        raw = await self.redis.get(files_key(record.base_ref)) if record.base_ref else None
        record.files = json.loads(raw) if raw else {}
        return record

    async def _trim(self, tenant: str) -> None:
        kept = await self.history(tenant)
        stale = [r.version for r in kept[: max(0, len(kept) - self.keep)]]
        if stale:
            await self.redis.hdel(hist_key(tenant), *stale)


def new_record(loaded: LoadedRuleSet, *, source: str, author: str | None, previous: str | None) -> VersionRecord:
    """The record of ``loaded`` running now, published by ``author`` from ``source``."""
    ruleset = loaded.ruleset
    return VersionRecord(
        version=ruleset.version,
        at=time.time(),
        author=author,
        source=source,
        counts=counts(ruleset),
        files=dict(loaded.files),
        tenant_files=dict(loaded.tenant_files),
        previous=previous,
        name=ruleset.name,
        shadow_rules=[r.id for r in ruleset.shadow_rules],
    )


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def counts(ruleset: CompiledRuleSet) -> dict[str, int]:
    every = ruleset.all_rules or ruleset.rules
    return {
        "rules": len(every),
        "active": sum(r.mode is Mode.ACTIVE for r in ruleset.rules),
        "shadow": len(ruleset.shadow_rules),
        "not_evaluated": len(every) - len(ruleset.rules),
        "tiers": len(ruleset.tiers),
        "offers": len(ruleset.offers),
        "features": len(ruleset.features),
        "seed_list_entries": len(ruleset.seed_lists),
    }
