"""Store KPIs for the daily / weekly / monthly review, from the journey and community indexes.

- fission_groups: groups created with ``source: fission`` in the period
- active_groups: groups with a member joining, a red packet claimed or a red-packet
  test passed in the period, and no red-packet test failed in it
- new_followers_active: members who joined one of those active groups in the period
- one conversion per journey ``conversions:`` entry: of the customers who entered
  ``from`` in the period (their first entry), how many have entered ``to`` since
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.datastore.batches import run_batch, text
from engine.journeys.community import kpi_key
from engine.journeys.runner import stage_entries_key
from engine.model import CompiledRuleSet

PERIODS = ("day", "week", "month")


def period_bounds(period: str, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local start (inclusive) and end (exclusive) of the day, ISO week or month containing ``day``."""
    if period == "day":
        first, last = day, day + timedelta(days=1)
    elif period == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    else:
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
    return datetime.combine(first, time(), zone), datetime.combine(last, time(), zone)


async def kpis(*, client: Any, tenant: str, ruleset: CompiledRuleSet, start: datetime, end: datetime) -> dict[str, Any]:
    a, b = repr(start.timestamp()), f"({end.timestamp()!r}"
    fission, activity, dead, joins = await run_batch(
        client,
        [
            ("ZCOUNT", kpi_key(tenant, "created:fission"), a, b),
            ("ZRANGEBYSCORE", kpi_key(tenant, "activity"), a, b),
            ("ZRANGEBYSCORE", kpi_key(tenant, "dead"), a, b),
            ("ZRANGEBYSCORE", kpi_key(tenant, "joins"), a, b),
        ],
    )
    failed = {text(m).split("|", 1)[0] for m in dead}
    active = {text(m).split("|", 1)[0] for m in activity} - failed
    followers = sum(1 for m in joins if text(m).split("|", 1)[0] in active)
    report: dict[str, Any] = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "fission_groups": int(fission),
        "active_groups": len(active),
        "new_followers_active": followers,
        "conversions": [],
    }
    for journey in ruleset.automation.journeys:
        for conv in journey.conversions:
            cohort = (
                await run_batch(client, [("ZRANGEBYSCORE", stage_entries_key(tenant, journey.id, conv.source), a, b)])
            )[0]
            members = [text(m) for m in cohort]
            reached = 0
            if members:
                scores = (
                    await run_batch(client, [("ZMSCORE", stage_entries_key(tenant, journey.id, conv.target), *members)])
                )[0]
                reached = sum(1 for s in scores if s is not None)
            report["conversions"].append(
                {
                    "journey": journey.id,
                    "id": conv.id,
                    "label": conv.label,
                    "from": conv.source,
                    "to": conv.target,
                    "entered": len(members),
                    "converted": reached,
                    "rate": round(reached / len(members), 4) if members else None,
                }
            )
    return report


def as_csv(report: dict[str, Any]) -> str:
    """One ``kpi,value`` row per figure (conversions as ``<id>_rate`` and counts)."""
    rows = [("from", report["from"]), ("to", report["to"])]
    rows += [(k, report[k]) for k in ("fission_groups", "active_groups", "new_followers_active")]
    for conv in report["conversions"]:
        rows += [(f"{conv['id']}_entered", conv["entered"]), (f"{conv['id']}_converted", conv["converted"])]
        rows.append((f"{conv['id']}_rate", "" if conv["rate"] is None else conv["rate"]))
    return "kpi,value\n" + "".join(f"{k},{v}\n" for k, v in rows)
