"""The audit trail: one append-only Redis stream per tenant, trimmed by age.

``yt:{<tenant>:audit}:log`` holds one stream entry per change, its id the time it was
written (Redis assigns ``<ms>-<seq>``, so ids are ordered and a time range is an id
range), one field ``e`` with the entry as JSON. Each append trims entries older than
the retention (``YUTANG_AUDIT_RETENTION_DAYS``, ``XADD ... MINID ~``: whole macro nodes
at a time, so the oldest may outlive the bound by a few entries, never fall short of it).

Nothing in the API edits or deletes an entry. An entry names the actor by key id
(the first digits of the key's digest), never by the key.

Reading pages newest first: ``cursor`` is the id of the last entry a page returned,
the next page starts strictly before it. Filters (action, actor) are applied while
reading, at most ``SCAN_LIMIT`` entries per page, so a rare action in a long trail is
answered in several pages (each with a cursor) rather than one slow one.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from engine.datastore.keys import PREFIX, safe_id
from engine.datastore.scripts import AnyRedis

SCAN_LIMIT = 5_000
MAX_SEQ = 2**64 - 1
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Query:
    """Which entries to read: filters, a time range (ms since the epoch, inclusive), a cursor."""

    action: str | None = None
    actor: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    cursor: str | None = None

    def matches(self, entry: dict[str, Any]) -> bool:
        if self.action and entry.get("action") != self.action and not _in_family(entry, self.action):
            return False
        return not self.actor or entry.get("actor") == self.actor


def _in_family(entry: dict[str, Any], action: str) -> bool:
    """``action=rules`` matches ``rules.reload`` and ``rules.rollback``."""
    return "." not in action and str(entry.get("action", "")).startswith(action + ".")


class AuditTrail:
    """Append and read the per-tenant audit streams."""

    def __init__(self, client: AnyRedis, *, retention_s: float) -> None:
        self.client = client
        self.retention_s = retention_s

    @staticmethod
    def key(tenant: str) -> str:
        return f"{PREFIX}:{{{safe_id(tenant)}:audit}}:log"

    async def append(self, tenant: str, entry: dict[str, Any]) -> str:
        """Append ``entry``; the stream id it got. Trims what is older than the retention."""
        cutoff = max(0, int((time.time() - self.retention_s) * 1000))
        body = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str)
        added = await self.client.execute_command("XADD", self.key(tenant), "MINID", "~", cutoff, "*", "e", body)
        if self.retention_s < 60:  # approximate trimming keeps whole nodes: short retentions trim exactly
            await self.client.execute_command("XTRIM", self.key(tenant), "MINID", cutoff)
        return added.decode() if isinstance(added, bytes) else str(added)

    async def page(self, tenant: str, query: Query, *, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``limit`` matching entries, newest first, and the cursor of the next page (None: no more)."""
        found: list[dict[str, Any]] = []
        scanned = 0
        async for entry in self._newest_first(tenant, query):
            scanned += 1
            if query.matches(entry):
                found.append(entry)
                if len(found) == limit:
                    return found, entry["id"]
            if scanned >= SCAN_LIMIT:
                return found, entry["id"]
        return found, None

    async def every(self, tenant: str, query: Query) -> AsyncIterator[dict[str, Any]]:
        """Every matching entry, newest first (the JSON lines export)."""
        async for entry in self._newest_first(tenant, query):
            if query.matches(entry):
                yield entry

    async def _newest_first(self, tenant: str, query: Query) -> AsyncIterator[dict[str, Any]]:
        high = _before(query.cursor) if query.cursor else (str(query.until_ms) if query.until_ms is not None else "+")
        if high is None:  # the cursor was the oldest id there can be
            return
        if query.cursor and query.until_ms is not None and _ms(high) > query.until_ms:
            high = str(query.until_ms)
        low = str(query.since_ms) if query.since_ms is not None else "-"
        while True:
            rows = await self.client.execute_command("XREVRANGE", self.key(tenant), high, low, "COUNT", _BATCH)
            for stream_id, fields in rows:
                yield _entry(stream_id, fields)
            if len(rows) < _BATCH:
                return
            high = _before(_text(rows[-1][0]))
            if high is None:
                return


def _entry(stream_id: bytes | str, fields: Any) -> dict[str, Any]:
    values = dict(zip(fields[::2], fields[1::2], strict=True)) if isinstance(fields, list) else dict(fields)
    raw = values.get(b"e", values.get("e")) or b"{}"
    entry: dict[str, Any] = json.loads(raw)
    return {"id": _text(stream_id), **entry}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _before(stream_id: str) -> str | None:
    """The id just before ``stream_id`` (an exclusive bound Redis refuses for ``0-0``); None: there is none."""
    ms, _, seq = stream_id.partition("-")
    if int(seq or 0) > 0:
        return f"{int(ms)}-{int(seq) - 1}"
    return f"{int(ms) - 1}-{MAX_SEQ}" if int(ms) > 0 else None


def _ms(stream_id: str) -> int:
    return int(stream_id.split("-", 1)[0])
