"""``GET /v1/stats/protection``: a tenant's day of protection, for every role that reads decisions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ReaderCaller, RuntimeDep
from api.stats.schemas import ProtectionReport
from api.stats.service import protection_report

router = APIRouter(prefix="/v1/stats", tags=["stats"])


@router.get(
    "/protection",
    response_model=ProtectionReport,
    summary="A day of protection: events, decisions, rewards granted and withheld (money protected), "
    "reasons by family, budgets, against the same day last week",
)
async def get_protection(
    runtime: RuntimeDep,
    caller: ReaderCaller,
    day: Annotated[
        str | None, Query(max_length=32, description="local date YYYY-MM-DD (the pack's time zone); default today")
    ] = None,
) -> dict[str, Any]:
    return await protection_report(runtime=runtime, tenant=caller.tenant, day=day)
