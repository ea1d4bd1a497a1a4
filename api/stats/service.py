"""The protection report of one tenant's day: its counters and last week's, named with the running pack.

What a caller controls is the day: it must be a real date within the days kept
(:data:`~engine.stats.counters.RETENTION_DAYS`) and not after the tenant's today,
else 422 naming ``day``. The tenant is the key's (or, for a platform key, the one it
names): the counters' keys carry it in their hash tag, so no day of another tenant
is ever read.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import PurePath
from typing import Any

from api.errors import InvalidRequest
from api.runtime import Runtime
from engine.datastore.batches import run_batch
from engine.model import CompiledRuleSet
from engine.stats.counters import RETENTION_DAYS, day_key
from engine.stats.report import MEASURES, DayTally, tally

TOP_FAMILIES = 8
TOP_RULES = 5


def pick_day(day: str | None, today: date) -> date:
    """The day asked for (default: the tenant's today), or 422 naming ``day``."""
    if day is None:
        return today
    try:
        chosen = date.fromisoformat(day)
    except ValueError:
        raise _bad_day(f"{day[:32]!r} is not a date (YYYY-MM-DD)") from None
    if chosen > today:
        raise _bad_day(f"{chosen} is after today ({today}, the pack's time zone)")
    if chosen < today - timedelta(days=RETENTION_DAYS):
        raise _bad_day(f"{chosen} is older than the {RETENTION_DAYS} days kept")
    return chosen


def _bad_day(message: str) -> InvalidRequest:
    return InvalidRequest(f"day: {message}", extra={"fields": [{"field": "day", "message": message}]})


async def protection_report(*, runtime: Runtime, tenant: str, day: str | None) -> dict[str, Any]:
    loaded = runtime.rulesets.of(tenant)
    ruleset, zone = loaded.ruleset, loaded.evaluator.zone
    now = datetime.now(zone)
    chosen = pick_day(day, now.date())
    earlier = chosen - timedelta(days=7)
    client = runtime.services.client
    reads = [("HGETALL", day_key(tenant, str(chosen))), ("HGETALL", day_key(tenant, str(earlier)))]
    raw_day, raw_week = await runtime.guard.call("stats", run_batch(client, reads))
    budgets = await runtime.guard.call(
        "stats", runtime.services.ledger.budgets(tenant=tenant, offers=ruleset.offers, zone=zone, now=now)
    )
    live = chosen == now.date()
    hour = now.hour + 1 if live else 24
    current, before = tally(raw_day), tally(raw_week)
    return {
        "tenant": tenant,
        "day": str(chosen),
        "timezone": ruleset.timezone,
        "live": live,
        "hour": hour,
        "ruleset_version": ruleset.version,
        "today": _day_out(chosen, current, hour),
        "last_week": _day_out(earlier, before, hour),
        "families": _families(ruleset, current),
        "offers": [
            {
                "offer": o.id, "label": o.label,
                "granted": current.granted_offers[o.id], "withheld": current.withheld_offers[o.id],
                "total": budgets[o.id].total, "used": budgets[o.id].used, "remaining": budgets[o.id].remaining,
            }
            for o in ruleset.offers
        ],
    }  # fmt: skip


def _day_out(day: date, tallied: DayTally, hour: int) -> dict[str, Any]:
    return {
        "day": str(day),
        "series": tallied.hours,
        "totals": _totals(tallied, 24),
        "totals_so_far": _totals(tallied, hour),
    }


def _totals(tallied: DayTally, until_hour: int) -> dict[str, Any]:
    return {m: round(tallied.total(m, until_hour), 2) for m in MEASURES}


def _families(ruleset: CompiledRuleSet, tallied: DayTally) -> list[dict[str, Any]]:
    """Rule hits grouped by the rule's file (its family); a rule no longer in the pack is under 'other'."""
    rules = {r.id: r for r in ruleset.all_rules or ruleset.rules}
    families: dict[str, list[dict[str, Any]]] = {}
    for rule_id, hits in tallied.rules.most_common():
        rule = rules.get(rule_id)
        family = PurePath(rule.location.file).stem if rule is not None else "other"
        families.setdefault(family, []).append(
            {
                "rule": rule_id, "code": rule.code if rule else None, "hits": hits,
                "text": rule.reason_zh if rule else "", "text_en": rule.reason_en if rule else "",
            }
        )  # fmt: skip
    ordered = sorted(families.items(), key=lambda item: -sum(r["hits"] for r in item[1]))
    return [
        {"family": name, "hits": sum(r["hits"] for r in hits), "rules": hits[:TOP_RULES]}
        for name, hits in ordered[:TOP_FAMILIES]
    ]
