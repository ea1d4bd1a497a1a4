"""Per-week WeCom figures (a staff member's adds and deletions, a group's joins and leaves)
and each customer's standing with the staff members it added.

One script per message both marks it seen and moves its counters, so WeCom's retries
of one callback count once. Keys ``yt:{<tenant>:wecom}:seen:<message>`` (kept
``SEEN_TTL_S``) and ``yt:{<tenant>:wecom}:w:<ISO week>`` (a hash, kept ``WEEK_TTL_S``)
share the tenant's WeCom slot. A customer's standing, ``yt:{<tenant>:cus:<customer>}:wecom``
(staff -> ``{state, at}``), lives in the customer's slot, beside its other history.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from engine.datastore.batches import run_batch, text
from engine.datastore.keys import PREFIX, CustomerKeys, safe_id

SEEN_TTL_S = 7 * 86400
WEEK_TTL_S = 120 * 86400

COUNT_ONCE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
for i = 3, #ARGV, 2 do redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1]) end
if #ARGV > 2 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return 1
"""


def iso_week(at: datetime) -> str:
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


class WecomLedger:
    def __init__(self, client: Any) -> None:
        self.client = client
        self._count_once = client.register_script(COUNT_ONCE)

    @staticmethod
    def _base(tenant: str) -> str:
        return f"{PREFIX}:{{{safe_id(tenant)}:wecom}}"

    async def count_once(self, *, tenant: str, message_id: str, at: datetime, counts: dict[str, int]) -> bool:
        """Move ``counts`` in ``at``'s week unless this message was counted; True when it was new."""
        base = self._base(tenant)
        args: list[Any] = [SEEN_TTL_S, WEEK_TTL_S]
        for field, value in counts.items():
            args += [field, value]
        keys = [f"{base}:seen:{message_id}", f"{base}:w:{iso_week(at)}"]
        (fresh,) = await run_batch(self.client, [(self._count_once, keys, args)])
        return bool(fresh)

    async def set_standing(self, *, tenant: str, customer: str, staff: str, state: str, at: datetime) -> None:
        """Remember that ``customer`` and ``staff`` are now ``state`` (added, deleted_by_customer, ...)."""
        key = f"{CustomerKeys(tenant, customer).base}:wecom"
        record = json.dumps({"state": state, "at": at.isoformat()})
        await run_batch(self.client, [("HSET", key, staff, record), ("EXPIRE", key, WEEK_TTL_S * 3)])

    async def standing(self, *, tenant: str, customer: str) -> list[dict[str, Any]]:
        """The customer's staff contacts on WeCom, as the last callback left them."""
        (raw,) = await run_batch(self.client, [("HGETALL", f"{CustomerKeys(tenant, customer).base}:wecom")])
        return [{"staff": text(k), **json.loads(text(v))} for k, v in sorted(raw.items())]

    async def week(self, *, tenant: str, week: str) -> dict[str, Any]:
        """Staff and groups of one ISO week, with a staff member's deletion rate and a group's churn."""
        (raw,) = await run_batch(self.client, [("HGETALL", f"{self._base(tenant)}:w:{week}")])
        staff: dict[str, dict[str, int]] = {}
        groups: dict[str, dict[str, int]] = {}
        for field, value in raw.items():
            kind, _, subject = text(field).partition("|")
            table = groups if kind in {"joined", "left", "dismissed"} else staff
            table.setdefault(subject, {})[kind] = int(value)
        return {
            "week": week,
            "staff": [_staff_row(name, row) for name, row in sorted(staff.items())],
            "groups": [_group_row(chat, row) for chat, row in sorted(groups.items())],
        }


def _staff_row(staff: str, row: dict[str, int]) -> dict[str, Any]:
    added, by_customer = row.get("added", 0), row.get("deleted_by_customer", 0)
    return {
        "staff": staff,
        "added": added,
        "deleted_by_customer": by_customer,
        "deleted_by_staff": row.get("deleted_by_staff", 0),
        # customers who deleted this staff member per customer added that week: the seeds' "add then delete"
        "deletion_rate": round(by_customer / added, 4) if added else None,
    }


def _group_row(chat: str, row: dict[str, int]) -> dict[str, Any]:
    joined, left = row.get("joined", 0), row.get("left", 0)
    return {
        "group": chat,
        "joined": joined,
        "left": left,
        "net": joined - left,
        "churn": round(left / joined, 4) if joined else None,  # leavers per joiner that week
        "dismissed": bool(row.get("dismissed")),
    }
