"""The contact gate: may staff message this customer on this channel now?

Each (customer, channel) has a sorted set of contact times in the customer's slot.
One Lua script counts the contacts inside every applicable cap's sliding window and,
only when all caps allow it, records the new contact -- check and record are one
step, so two staff racing for the last allowed group message cannot both send it.
Windows are exact: a contact counts while ``t - period < contact <= ...``; the
answer's ``next_allowed_at`` is when enough of the oldest contacts have left.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from engine.contacts.platform import Quota
from engine.contacts.quiet import quiet_until
from engine.datastore.batches import run_batch, text
from engine.datastore.keys import CustomerKeys
from engine.model import ContactCap, ContactPolicy

Reason = Literal["ok", "quiet_hours", "cap", "unknown_channel", "platform_limit"]

#: KEYS: the channel's contact times, the customer's contact log, then one counter per
#:       platform quota
#: ARGV: now_ms, record (0/1), member, horizon_ms, log_keep, log_member, quota count n,
#:       per quota (limit, reset_at_ms), then per cap (limit, period_ms).
#:       Returns {allowed, recorded, full_quota, quota_used, count1, boundary1, ...}:
#:       full_quota = 1-based index of the first exhausted quota (0: none), quota_used its
#:       count; count = contacts in the cap's window before this one; boundary = the time
#:       of the contact whose leaving the window frees a place ('' if the cap allows).
#:       Quota counters are only incremented when the contact is recorded; they expire a
#:       day after their period ends, measured from the contact's own time (as the
#:       contact times are), so replayed or back-dated contacts count as well.
CHECK_AND_RECORD = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[4])))
local allowed, out = 1, {}
local quotas = tonumber(ARGV[7])
local full_quota, quota_used = 0, 0
for q = 1, quotas do
  local used = tonumber(redis.call('GET', KEYS[2 + q]) or '0')
  if used >= tonumber(ARGV[6 + 2 * q]) then
    allowed = 0
    if full_quota == 0 then full_quota, quota_used = q, used end
  end
end
for i = 8 + 2 * quotas, #ARGV, 2 do
  local limit, period = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local since = '(' .. (now - period)
  local count = redis.call('ZCOUNT', KEYS[1], since, '+inf')
  local boundary = ''
  if count >= limit then
    allowed = 0
    local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)
    if oldest[2] then boundary = oldest[2] end
  end
  out[#out + 1] = count
  out[#out + 1] = boundary
end
local recorded = 0
if allowed == 1 and ARGV[2] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('ZADD', KEYS[2], now, ARGV[6])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[5]))
  for q = 1, quotas do
    redis.call('INCR', KEYS[2 + q])
    redis.call('PEXPIRE', KEYS[2 + q], tonumber(ARGV[7 + 2 * q]) - now + 86400000)
  end
  recorded = 1
end
return {allowed, recorded, full_quota, quota_used, unpack(out)}
"""


@dataclass(frozen=True, slots=True)
class ContactAnswer:
    """``reason`` names what decided: on refusal, the constraint ``next_allowed_at`` waits for.

    ``cap`` / ``used`` / ``limit`` describe the deciding cap (on ``ok``: the tightest
    one, ``used`` counting this contact if it was recorded); ``next_allowed_at`` is
    None when allowed, and when no future moment frees a place (a cap of zero).
    """

    allowed: bool
    reason: Reason
    cap: dict[str, Any] | None
    next_allowed_at: datetime | None
    used: int
    limit: int | None
    recorded: bool = False


@dataclass(frozen=True, slots=True)
class ContactRecord:
    channel: str
    at: datetime


class PlatformLimit(Protocol):
    """Hook for limits the platform imposes (WeCom's group-message quota: ``WeComMonthly``).

    It only names the period's quota (None: no limit on this channel); the gate's script
    counts it atomically with the caps and increments it only when the contact is
    recorded, so a refusal by a cap never consumes it. An exhausted quota refuses the
    contact as ``platform_limit`` before any cap is reported.
    """

    def quota(self, *, channel: str, at: datetime, policy: ContactPolicy, zone: ZoneInfo) -> Quota | None: ...


class ContactGate:
    """Contact caps and quiet hours of the pack, enforced in Redis per customer."""

    def __init__(self, client: Any, *, platform_limits: Sequence[PlatformLimit] = (), history_size: int = 200) -> None:
        self.client = client
        self.platform_limits = tuple(platform_limits)
        self.history_size = history_size
        self._script = client.register_script(CHECK_AND_RECORD)

    async def request(
        self,
        *,
        tenant: str,
        customer: str,
        channel: str,
        tier: str,
        at: datetime,
        policy: ContactPolicy,
        zone: ZoneInfo,
        record: bool = True,
    ) -> ContactAnswer:
        """Answer whether ``customer`` may be contacted on ``channel`` at ``at``; record it if so."""
        known = [c for c in policy.caps if c.channel == channel]
        if not known:
            return ContactAnswer(False, "unknown_channel", None, None, 0, None)
        quotas = [
            quota
            for hook in self.platform_limits
            if (quota := hook.quota(channel=channel, at=at, policy=policy, zone=zone)) is not None
        ]
        caps = [c for c in known if not c.tiers or tier in c.tiers]
        quiet_end = quiet_until(at, policy.quiet_from, policy.quiet_to, zone)
        keys = CustomerKeys(tenant, customer)
        now_ms = int(at.timestamp() * 1000)
        contact_id = uuid.uuid4().hex[:12]
        args: list[Any] = [
            now_ms,
            1 if record and quiet_end is None else 0,
            f"{now_ms}:{contact_id}",
            max(c.period_seconds for c in known) * 1000,
            self.history_size,
            f"{channel}|{now_ms}|{contact_id}",
            len(quotas),
        ]
        for quota in quotas:
            args += [quota.limit, int(quota.resets_at.timestamp() * 1000)]
        for cap in caps:
            args += [cap.limit, cap.period_seconds * 1000]
        script_keys = [keys.contacts(channel), keys.contact_log] + [keys.platform(q.name) for q in quotas]
        reply = (await run_batch(self.client, [(self._script, script_keys, args)]))[0]
        allowed, recorded, full_quota = int(reply[0]), int(reply[1]), int(reply[2])
        if full_quota:
            quota = quotas[full_quota - 1]
            return ContactAnswer(False, "platform_limit", None, quota.resets_at, int(reply[3]), quota.limit)
        windows = [(cap, int(reply[4 + 2 * i]), text(reply[5 + 2 * i])) for i, cap in enumerate(caps)]
        if allowed and quiet_end is None:
            return _allowed(windows, bool(recorded))
        return _refused(windows, quiet_end, policy, zone)

    async def history(self, *, tenant: str, customer: str, limit: int = 50) -> list[ContactRecord]:
        """The customer's recorded contacts on every channel, newest first."""
        key = CustomerKeys(tenant, customer).contact_log
        rows = (await run_batch(self.client, [("ZREVRANGE", key, 0, max(limit, 1) - 1)]))[0]
        records = []
        for row in rows:
            channel, ms, _ = text(row).split("|")
            records.append(ContactRecord(channel, datetime.fromtimestamp(int(ms) / 1000, UTC)))
        return records


def _allowed(windows: list[tuple[ContactCap, int, str]], recorded: bool) -> ContactAnswer:
    if not windows:
        return ContactAnswer(True, "ok", None, None, int(recorded), None, recorded)
    cap, count, _ = min(windows, key=lambda w: w[0].limit - w[1])
    return ContactAnswer(True, "ok", _describe(cap), None, count + int(recorded), cap.limit, recorded)


def _refused(
    windows: list[tuple[ContactCap, int, str]], quiet_end: datetime | None, policy: ContactPolicy, zone: ZoneInfo
) -> ContactAnswer:
    """Refusal by the constraint that lifts last; a cap lifting inside quiet hours waits for their end."""
    full = [(cap, count, boundary) for cap, count, boundary in windows if count >= cap.limit]
    if full and any(not boundary for _, _, boundary in full):
        cap, count, _ = next(w for w in full if not w[2])
        return ContactAnswer(False, "cap", _describe(cap), None, count, cap.limit)
    if full:
        cap, count, boundary = max(full, key=lambda w: float(w[2]) + w[0].period_seconds * 1000)
        free_at = datetime.fromtimestamp((float(boundary) + cap.period_seconds * 1000) / 1000, UTC)
        if quiet_end is None or free_at >= quiet_end:
            later_quiet = quiet_until(free_at, policy.quiet_from, policy.quiet_to, zone)
            return ContactAnswer(
                False, "cap", _describe(cap), (later_quiet or free_at).astimezone(UTC), count, cap.limit
            )
    assert quiet_end is not None
    tight = min(windows, key=lambda w: w[0].limit - w[1]) if windows else None
    if tight is None:
        return ContactAnswer(False, "quiet_hours", None, quiet_end.astimezone(UTC), 0, None)
    cap, count, _ = tight
    return ContactAnswer(False, "quiet_hours", _describe(cap), quiet_end.astimezone(UTC), count, cap.limit)


def _describe(cap: ContactCap) -> dict[str, Any]:
    described = asdict(cap)
    described["tiers"] = sorted(cap.tiers)
    return described
