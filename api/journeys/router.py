"""Journeys and community over HTTP: group health, store KPIs (JSON or CSV), webhook deliveries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from api.deps import ExportCaller, ReaderCaller, RuntimeDep
from api.journeys.schemas import DeliveriesOut, GroupView, KpiReport
from api.journeys.service import automation
from api.runtime import Runtime
from engine.events import ID_PATTERN, Moment
from engine.journeys.reports import as_csv, kpis, period_bounds

router = APIRouter(prefix="/v1", tags=["journeys"])
GroupId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]


@router.get(
    "/groups/{group}", response_model=GroupView, summary="A group's health (members, staff pushes) and raised signals"
)
async def get_group(
    group: GroupId, runtime: RuntimeDep, caller: ReaderCaller, at: Moment | None = None
) -> dict[str, Any]:
    moment = (at or datetime.now(UTC)).timestamp()
    return await runtime.guard.call(
        "community", automation(runtime).community.view(tenant=caller.tenant, group=group, at=moment)
    )


@router.get(
    "/reports/kpis",
    response_model=KpiReport,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    summary="Store KPIs for a day, ISO week or month (JSON, or CSV with format=csv)",
)
async def kpi_report(
    runtime: RuntimeDep,
    caller: ReaderCaller,
    period: Literal["day", "week", "month"] = "day",
    day: Annotated[date | None, Query(alias="date")] = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    loaded = runtime.rulesets.of(caller.tenant)
    zone = loaded.evaluator.zone
    start, end = period_bounds(period, day or datetime.now(zone).date(), zone)
    report = await runtime.guard.call(
        "reports",
        kpis(client=runtime.services.client, tenant=caller.tenant, ruleset=loaded.ruleset, start=start, end=end),
    )
    report["period"] = period
    _export(runtime, period, report)
    if format == "csv":
        return PlainTextResponse(as_csv(report), media_type="text/csv")
    return JSONResponse(report)


@router.get(
    "/webhooks/deliveries",
    response_model=DeliveriesOut,
    summary="Every webhook delivery attempt, newest first (admin scope)",
)
async def deliveries(
    runtime: RuntimeDep, caller: ExportCaller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    """Admin only: the log names the merchant's endpoints and what they answered, not for a storefront's key."""
    rows = await runtime.guard.call(
        "webhooks", automation(runtime).outbox.deliveries(tenant=caller.tenant, limit=limit)
    )
    return {"deliveries": rows}


def _export(runtime: Runtime, period: str, report: dict[str, Any]) -> None:
    """The last computed KPIs as gauges for the dashboard (labelled by KPI and period only)."""
    from api.journeys.metrics import kpi_gauge

    gauge = kpi_gauge(runtime.metrics)
    for name in ("fission_groups", "active_groups", "new_followers_active"):
        gauge.labels(name, period).set(report[name])
    for conv in report["conversions"]:
        if conv["rate"] is not None:
            gauge.labels(f"{conv['id']}_rate", period).set(conv["rate"])
