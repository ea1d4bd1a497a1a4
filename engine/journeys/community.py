"""Community health: group events -> group state -> the pack's community rules -> signals.

Group keys share the group's slot (``yt:{<tenant>:grp:<group>}``): members (set),
joins / leaves / staff pushes (zsets by epoch), one hash per red packet (shares,
claimed, sent_at) and the raised signals (hash signal -> JSON). A rule with
``within`` is checked by the worker that long after each ``red_packet_sent`` (a due
item), which is the 5-6 minute red-packet test of DOMAIN.md. A rule evaluated
false clears its signal: the group recovered.

KPI indexes (``yt:{<tenant>:kpi}``, zsets by epoch) feed ``engine.journeys.reports``.
Staff pushes also go through the contact gate as channel ``group_message`` for
customer ``group:<id>``, so the pack's group cap refuses the next push.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from engine.backends.python_codegen import generate_matcher
from engine.datastore.batches import run_batch, text
from engine.datastore.keys import safe_id
from engine.events import Event
from engine.journeys.actions import ActionContext, Parts, run_actions
from engine.journeys.due import DueItem, DueQueue
from engine.journeys.model import HealthRule
from engine.model import Predicate
from engine.rule_engine import LoadedRuleSet

WEEK_S = 7 * 86400
KEEP_S = 400 * 86400
GROUP_CHANNEL = "group_message"


def group_base(tenant: str, group: str) -> str:
    return f"yt:{{{safe_id(tenant)}:grp:{safe_id(group)}}}"


def kpi_key(tenant: str, name: str) -> str:
    return f"yt:{{{safe_id(tenant)}:kpi}}:{name}"


class Community:
    def __init__(self, *, parts: Parts, queue: DueQueue) -> None:
        self.parts = parts
        self.client = parts.client
        self.queue = queue
        self._matchers: dict[str, Any] = {}

    def _match(self, loaded: LoadedRuleSet, facts: dict[str, Any]) -> set[str]:
        version = loaded.ruleset.version
        if version not in self._matchers:
            rules = loaded.ruleset.automation.community
            self._matchers = {version: generate_matcher([Predicate(r.id, frozenset(), r.condition) for r in rules])}
        return set(self._matchers[version](facts))

    async def on_event(self, *, tenant: str, loaded: LoadedRuleSet, event: Event) -> list[dict[str, Any]]:
        """Record one group event; the community rules it raised or cleared."""
        if not event.group:
            return []
        base, at, gid = group_base(tenant, event.group), event.epoch, event.group
        packet = str(event.attributes.get("packet", event.event_id))
        calls: list[Any] = [("SADD", "yt:due:tenants", tenant)]
        activity = ("ZADD", kpi_key(tenant, "activity"), repr(at), f"{gid}|{event.event_id}")
        if event.type == "group_created":
            source = str(event.attributes.get("source", "staff"))
            calls.append(("ZADD", kpi_key(tenant, f"created:{safe_id(source)}"), "NX", repr(at), gid))
        elif event.type == "member_joined":
            calls += [("SADD", f"{base}:members", event.customer), ("ZADD", f"{base}:joined", repr(at), event.customer)]
            calls += [activity, ("ZADD", kpi_key(tenant, "joins"), "NX", repr(at), f"{gid}|{event.customer}")]
        elif event.type == "member_left":
            calls += [("SREM", f"{base}:members", event.customer), ("ZADD", f"{base}:left", repr(at), event.customer)]
        elif event.type == "staff_message":
            calls.append(("ZADD", f"{base}:staff", repr(at), event.event_id))
        elif event.type == "red_packet_sent":
            shares = int(event.attributes.get("shares", 1))
            calls.append(("HSET", f"{base}:rp:{packet}", "shares", shares, "sent_at", repr(at)))
            calls.append(("EXPIRE", f"{base}:rp:{packet}", KEEP_S))
        elif event.type == "red_packet_claimed":
            calls += [("HINCRBY", f"{base}:rp:{packet}", "claimed", 1), activity]
        await run_batch(self.client, calls)
        if event.type == "staff_message" and self.parts.gate is not None:
            await self._gate_push(tenant, loaded, event)
        if event.type == "red_packet_sent":
            for rule in loaded.ruleset.automation.red_packet_checks:
                assert rule.within_seconds is not None
                payload = {"kind": "red_packet", "group": gid, "packet": packet, "rule": rule.id}
                item_id = f"rp|{gid}|{packet}|{rule.id}"
                await self.queue.schedule(
                    tenant=tenant, item_id=item_id, due_at=at + rule.within_seconds, payload=payload
                )
        rules = [r for r in loaded.ruleset.automation.community if event.type in r.on]
        if not rules:
            return []
        facts = await self.health(tenant=tenant, group=gid, at=at, packet=packet)
        facts |= {f"event.{k}": v for k, v in (("type", event.type), ("customer", event.customer), ("group", gid))}
        return await self._judge(tenant, loaded, gid, rules, facts, at, event.event_id)

    async def _gate_push(self, tenant: str, loaded: LoadedRuleSet, event: Event) -> None:
        if not any(c.channel == GROUP_CHANNEL for c in loaded.ruleset.contacts.caps):
            return
        await self.parts.gate.request(
            tenant=tenant, customer=f"group:{event.group}", channel=GROUP_CHANNEL, tier="",
            at=event.timestamp, policy=loaded.ruleset.contacts, zone=loaded.evaluator.zone,
        )  # fmt: skip

    async def check_red_packet(self, item: DueItem, *, loaded: LoadedRuleSet, now: float) -> str:
        """The red-packet test, ``within`` after it was sent: ``failed`` or ``passed``."""
        p = item.payload
        rule = next((r for r in loaded.ruleset.automation.community if r.id == p["rule"]), None)
        if rule is None:
            return "stale"
        facts = await self.health(tenant=item.tenant, group=p["group"], at=now, packet=p["packet"])
        facts["event.group"] = p["group"]
        raised = await self._judge(item.tenant, loaded, p["group"], [rule], facts, now, item.id)
        key = "dead" if raised else "activity"
        await run_batch(self.client, [("ZADD", kpi_key(item.tenant, key), repr(now), f"{p['group']}|{p['packet']}")])
        return "failed" if raised else "passed"

    async def _judge(
        self, tenant: str, loaded: LoadedRuleSet, group: str, rules: list[HealthRule], facts: dict[str, Any],
        at: float, source: str,
    ) -> list[dict[str, Any]]:  # fmt: skip
        matched = self._match(loaded, facts)
        key = f"{group_base(tenant, group)}:signals"
        raised: list[dict[str, Any]] = []
        for rule in rules:
            if rule.id not in matched:
                await run_batch(self.client, [("HDEL", key, rule.signal)])
                continue
            stamp = datetime.fromtimestamp(at, UTC).isoformat()
            record: dict[str, Any] = {"signal": rule.signal, "rule": rule.id, "at": stamp, "reason_zh": rule.reason_zh,
                      "reason_en": rule.reason_en}  # fmt: skip
            await run_batch(self.client, [("HSET", key, rule.signal, json.dumps(record, ensure_ascii=False))])
            subject = {"event": "community.signal", "group": group, "signal": rule.signal, "rule": rule.id}
            ctx = ActionContext(tenant, f"group:{group}", "", at, f"{source}|{rule.id}", subject)
            record["actions"] = await run_actions(self.parts, loaded, ctx, rule.actions)
            raised.append(record)
        return raised

    async def health(self, *, tenant: str, group: str, at: float, packet: str | None = None) -> dict[str, Any]:
        """The ``community.*`` values of a group at ``at``."""
        base = group_base(tenant, group)
        since = repr(at - WEEK_S)
        calls: list[Any] = [
            ("SCARD", f"{base}:members"),
            ("ZCOUNT", f"{base}:joined", f"({since}", repr(at)),
            ("ZCOUNT", f"{base}:left", f"({since}", repr(at)),
            ("ZCOUNT", f"{base}:staff", f"({since}", repr(at)),
            ("HMGET", f"{base}:rp:{packet or '-'}", "shares", "claimed"),
        ]
        members, joined, left, staff, (shares, claimed) = await run_batch(self.client, calls)
        facts: dict[str, Any] = {
            "community.members": int(members),
            "community.joined_7d": int(joined),
            "community.left_7d": int(left),
            "community.staff_messages_7d": int(staff),
        }
        if shares is not None:
            total, taken = int(text(shares)), int(text(claimed or 0))
            facts |= {
                "community.red_packet_shares": total,
                "community.red_packet_claimed": taken,
                "community.red_packet_unclaimed": max(total - taken, 0),
            }
        return facts

    async def view(self, *, tenant: str, group: str, at: float) -> dict[str, Any]:
        health = await self.health(tenant=tenant, group=group, at=at)
        raw = (await run_batch(self.client, [("HGETALL", f"{group_base(tenant, group)}:signals")]))[0]
        pairs = raw.items() if isinstance(raw, dict) else zip(raw[0::2], raw[1::2], strict=True)
        signals = sorted((json.loads(text(v)) for _, v in pairs), key=lambda s: s["signal"])
        return {
            "group": group,
            "health": {k.removeprefix("community."): v for k, v in health.items()},
            "signals": signals,
        }
