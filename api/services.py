"""The Redis-backed parts the routes use, built on one client: feature store, ledger, gate.

This module only wires the engine's parts together and adds the things that are
the API's own: claims of event ids (idempotent retries, api.scoring.claims), the
outcome route's remembered responses and each customer's recent decisions.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.claims import Claims
from api.encoding import encode as encode  # a response body as stored for retries (re-exported)
from api.settings import Settings
from engine.area.payers import AreaPolicy
from engine.area.store import AreaSnapshots
from engine.cases.book import CaseBook
from engine.contacts.gate import ContactGate
from engine.contacts.platform import WeComMonthly
from engine.datastore.batches import Command, Writes
from engine.datastore.connection import RedisHandle, RedisSettings, open_redis
from engine.datastore.keys import safe_id
from engine.datastore.scripts import guarded
from engine.events import Event
from engine.features.keys import KeyBuilder
from engine.features.spec import Entity, ListKind
from engine.features.store import FeatureStore
from engine.model import SeedListEntry
from engine.offers.clawbacks import Clawbacks
from engine.offers.ledger import OfferLedger
from engine.stats.counters import ProtectionCounters
from engine.wecom.ledger import WecomLedger

#: Recent decisions of a customer are kept this long after the last one.
DECISIONS_TTL_S = 90 * 86400


class Services:
    """One Redis client and the engine parts built on it."""

    def __init__(self, settings: Settings, handle: RedisHandle) -> None:
        self.settings = settings
        self.handle = handle
        self.client = handle.client
        secret = _secret(settings)
        self.store = FeatureStore(self.client, secret=secret)
        self.keys = KeyBuilder(secret)
        self.lists = self.store._lists
        self.ledger = OfferLedger(self.client, event_ttl=settings.idempotency_ttl_s)
        self.gate = ContactGate(self.client, platform_limits=[WeComMonthly()])
        self.writes = Writes(self.client)
        self.claims = Claims(self.client, ttl_s=settings.idempotency_ttl_s)
        self.cases = CaseBook(self.client)
        self.clawbacks = Clawbacks(self.client)
        self.wecom = WecomLedger(self.client)
        self.protection = ProtectionCounters()
        self.areas = AreaSnapshots(self.client)  # the tenants' payers per region, refreshed in the background

    def payers_of(self, tenant: str, event: Event, policy: AreaPolicy | None) -> dict[str, int] | None:
        """The tenant's payers per region for a scored event, from this worker's snapshot (no round trip).

        Also writes the event's region in the background (once per customer), so a payer's
        paid orders count for where it is from.
        """
        self.areas.place(tenant, event)
        return self.areas.current(tenant) if policy is not None and policy.learned else None

    async def close(self) -> None:
        """Close the client; stop the embedded server if this worker started it."""
        with contextlib.suppress(Exception):  # a background write of a region must not stop a shutdown
            await self.areas.drain()
        await self.handle.aclose()

    async def ping(self) -> bool:
        return bool(await self.store.ping())

    def decision_calls(self, *, tenant: str, event: Event, body: dict[str, Any]) -> list[Command]:
        """The writes keeping a compact record of the decision on the customer's capped list.

        Plain commands, sent by the caller together with the request's other writes.
        """
        if not self.settings.recent_decisions:
            return []
        key = self._decisions_key(tenant, event.customer)
        return [
            ("LPUSH", key, encode(_decision_record(event, body))),
            ("LTRIM", key, 0, self.settings.recent_decisions - 1),
            ("EXPIRE", key, DECISIONS_TTL_S),
        ]

    async def recent_decisions(self, *, tenant: str, customer: str, limit: int) -> list[dict[str, Any]]:
        async with guarded("recent decisions"):
            rows = await self.client.lrange(self._decisions_key(tenant, customer), 0, limit - 1)
        return [json.loads(row) for row in rows]

    async def contact_history(self, *, tenant: str, customer: str, limit: int) -> list[Any]:
        return list(await self.gate.history(tenant=tenant, customer=customer, limit=limit))

    def _decisions_key(self, tenant: str, customer: str) -> str:
        return f"{self.keys.tag(tenant, Entity.CUSTOMER, safe_id(customer))}:decisions"

    async def seed_lists(self, *, tenant: str, entries: Sequence[SeedListEntry], author: str) -> None:
        for entry in entries:
            await self.store.add_entry(
                tenant=tenant,
                entity=Entity(entry.entity),
                value=entry.value,
                kind=ListKind(entry.kind),
                reason=entry.reason,
                author=author,
                expires_at=entry.expires,
            )

    async def expire_holds(self, tenants: Iterable[str]) -> int:
        now = datetime.now(UTC)
        return await self.ledger.expire_holds_of(tenants, now=now)


def _decision_record(event: Event, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event.event_id, "type": event.type, "at": event.timestamp.isoformat(),
        "decision": body["decision"], "score": body["score"], "tier": body["tier"],
        "rules": [r["rule"] for r in body["reasons"]], "offers": [o["offer"] for o in body["offers"]],
    }  # fmt: skip


async def open_services(settings: Settings) -> Services:
    """Connect to REDIS_URL (or start the embedded server) and build the parts on it."""
    handle = await open_redis(
        RedisSettings(
            url=settings.redis_url,
            cluster=settings.redis_cluster,
            data_dir=settings.data_dir,
            socket_timeout=settings.redis_timeout_s,
            connect_timeout=settings.redis_timeout_s,
            max_connections=settings.redis_max_connections,
        )
    )
    return Services(settings, handle)


def _secret(settings: Settings) -> bytes:
    """The PII hashing key: YUTANG_SECRET, else one generated once and kept in the data dir."""
    if settings.secret:
        return settings.secret.encode()
    return ensure_secret_file(settings.data_dir / "secret.key").encode()


def ensure_secret_file(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> str:
    """Read the secret at ``path``, creating it first from ``make()``; several workers racing agree on one.

    The file is the owner's alone (0600, as ``mkstemp`` creates it); one found readable
    by others (copied, restored from a backup) is narrowed back to 0600 before use.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(make())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # atomic: the first worker's key wins
        os.unlink(tmp)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()
