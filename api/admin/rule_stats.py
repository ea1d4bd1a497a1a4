"""Rule hits and what shadow rules would have changed, per tenant and rule set version.

Counted in this worker's memory on the request path (no Redis round trip per event)
and added to Redis every few seconds by a background task, so every worker's counts
end up in one hash per tenant and version:

    yt:{<tenant>:rulestats}:<version>   events, changed, hit:<rule>, changed:<rule>,
                                        to:<decision>><shadow decision>

``changed`` counts scored events whose decision would differ with the shadow rules
active (``shadow_decision != decision``); ``changed:<rule>`` counts those of them on
which that shadow rule fired. Keyed by version, so a reload starts a fresh report and
a rollback finds its old one. Prometheus has the same hits summed over all tenants
(``yutang_rule_hits_total``); this is the per-merchant view the console shows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from engine.datastore.keys import PREFIX, safe_id
from engine.model import CompiledRuleSet, Rule

#: Reports of versions nobody runs any more fade away.
TTL_S = 30 * 86_400


def stats_key(tenant: str, version: str) -> str:
    return f"{PREFIX}:{{{safe_id(tenant)}:rulestats}}:{version}"


class RuleStats:
    """This worker's counts not yet written to Redis."""

    def __init__(self) -> None:
        self._pending: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    def add(self, tenant: str, body: Mapping[str, Any]) -> None:
        """Count one scored response (degraded answers ran no rules and are skipped)."""
        if body.get("degraded"):
            return
        counts = self._pending[(tenant, body["ruleset_version"])]
        counts["events"] += 1
        changed = body["shadow_decision"] != body["decision"]
        if changed:
            counts["changed"] += 1
            counts[f"to:{body['decision']}>{body['shadow_decision']}"] += 1
        for reason in body["reasons"]:
            counts["hit:" + reason["rule"]] += 1
        for reason in body["shadow"]:
            counts["hit:" + reason["rule"]] += 1
            if changed:
                counts["changed:" + reason["rule"]] += 1

    async def flush(self, redis: Any) -> None:
        """Add the pending counts to Redis in one pipeline; on failure they stay pending."""
        if not self._pending:
            return
        pending, self._pending = self._pending, defaultdict(Counter)
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for (tenant, version), counts in pending.items():
                    key = stats_key(tenant, version)
                    for name, amount in counts.items():
                        pipe.hincrby(key, name, amount)
                    pipe.expire(key, TTL_S)
                await pipe.execute()
        except BaseException:
            for where, counts in pending.items():
                self._pending[where].update(counts)
            raise

    async def read(self, redis: Any, *, tenant: str, version: str) -> Counter[str]:
        """Every worker's flushed counts plus this worker's pending ones."""
        raw = await redis.hgetall(stats_key(tenant, version))
        counts: Counter[str] = Counter({_text(k): int(v) for k, v in raw.items()})
        counts.update(self._pending.get((tenant, version), Counter()))
        return counts


def rule_report(ruleset: CompiledRuleSet, counts: Counter[str], *, root: Path | None = None) -> dict[str, Any]:
    """Hits per rule (every mode) and the shadow report, in the pack's rule order; files relative to ``root``."""
    every = ruleset.all_rules or ruleset.rules
    events, changed = counts["events"], counts["changed"]
    return {
        "version": ruleset.version,
        "events": events,
        "rules": [{**_describe(r, root), "hits": counts["hit:" + r.id]} for r in every],
        "shadow": {
            "events_changed": changed,
            "share_changed": round(changed / events, 4) if events else None,
            "transitions": _transitions(counts),
            "rules": [
                {
                    "id": r.id,
                    "hits": counts["hit:" + r.id],
                    "would_change": counts["changed:" + r.id],
                    "hit_share": round(counts["hit:" + r.id] / events, 4) if events else None,
                }
                for r in ruleset.shadow_rules
            ],
        },
    }


def _describe(rule: Rule, root: Path | None) -> dict[str, Any]:
    """What the console's rules table shows beside the hits: where the rule lives, its family, its reason.

    ``file`` is the pack-relative name the rule was loaded under (never a server path);
    the family is the file's stem (``risk/coupons.yaml`` -> ``coupons``: the shipped
    pack keeps one abuse family per file).
    """
    where = rule.location
    file = pack_relative(where.file, root)
    return {
        "id": rule.id, "mode": rule.mode.value, "file": file, "line": where.line, "family": PurePosixPath(file).stem,
        "score": rule.score, "decision": rule.decision.value if rule.decision else None,
        "reason_zh": rule.reason_zh, "reason_en": rule.reason_en,
    }  # fmt: skip


def pack_relative(file: str, root: Path | None) -> str:
    """``file`` below the pack's directory as ``risk/coupons.yaml``; a name outside it (an upload's) as it came."""
    if root is None or not Path(file).is_absolute():
        return file
    try:
        return Path(file).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(file).name


def _transitions(counts: Counter[str]) -> list[dict[str, Any]]:
    pairs: Iterable[tuple[str, int]] = ((k[3:], v) for k, v in counts.items() if k.startswith("to:"))
    found = [{"from": k.split(">")[0], "to": k.split(">")[1], "events": v} for k, v in pairs]
    return sorted(found, key=lambda t: -int(t["events"]))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
