"""``/v1/cases``: the review queue. Read, claim (a lease), decide (approve | deny | escalate)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from api.cases import service
from api.cases.schemas import CaseDetailOut, CaseOut, CasePageOut, CaseSort, CaseState, ClaimOut, DecisionIn
from api.deps import ReviewerCaller, RuntimeDep
from api.errors import InvalidRequest
from engine.cases.book import Filters, decode_cursor
from engine.events import ID_PATTERN

router = APIRouter(prefix="/v1/cases", tags=["cases"])
CaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^c_[0-9a-f]{1,60}$")]
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "case_conflict: claimed by another reviewer (claimed_by), or already decided"}
}
MISSING: dict[int | str, dict[str, Any]] = {404: {"description": "no such case in this tenant"}}


@router.get("", response_model=CasePageOut, summary="The review queue: filter, sort, page")
async def list_cases(
    runtime: RuntimeDep,
    caller: ReviewerCaller,
    state: CaseState | None = CaseState.UNDECIDED,
    reason: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")] = None,
    tier: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")] = None,
    min_value: Annotated[float | None, Query(ge=0, le=1e9)] = None,
    customer: Annotated[str | None, Query(min_length=1, max_length=128, pattern=ID_PATTERN)] = None,
    sort: CaseSort = CaseSort.AGE,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> dict[str, Any]:
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except ValueError as err:
            fields = [{"field": "cursor", "message": str(err)}]
            raise InvalidRequest(f"cursor: {err}", extra={"fields": fields}) from None
    filters = Filters(state=state.value if state else None, reason=reason, tier=tier, min_value=min_value,
                      customer=customer)  # fmt: skip
    cases, next_cursor = await runtime.guard.call(
        "cases",
        runtime.services.cases.page(caller.tenant, filters=filters, sort=sort.value, limit=limit, cursor=cursor),
    )
    now = datetime.now(UTC)
    return {"cases": [c.as_dict(now) for c in cases], "next_cursor": next_cursor}


@router.get("/{case_id}", response_model=CaseDetailOut, summary="A case: events, reasons, stake, linked accounts, log",
            responses=MISSING)  # fmt: skip
async def get_case(case_id: CaseId, runtime: RuntimeDep, caller: ReviewerCaller) -> dict[str, Any]:
    return await service.case_view(runtime, caller.tenant, case_id)


@router.post("/{case_id}/claim", response_model=ClaimOut, summary="Take a lease on a case so no one else decides it",
             responses={**MISSING, **CONFLICT})  # fmt: skip
async def claim_case(case_id: CaseId, runtime: RuntimeDep, caller: ReviewerCaller) -> dict[str, Any]:
    return await service.claim(runtime, caller.tenant, case_id, caller)


@router.post("/{case_id}/decision", response_model=CaseOut, summary="Approve, deny or escalate a case (idempotent)",
             responses={**MISSING, **CONFLICT})  # fmt: skip
async def decide_case(case_id: CaseId, body: DecisionIn, runtime: RuntimeDep, caller: ReviewerCaller) -> JSONResponse:
    case, replayed = await service.decide(runtime, caller.tenant, case_id, principal=caller,
                                          decision=body.decision.value, note=body.note)  # fmt: skip
    return JSONResponse(case, headers={"Idempotent-Replayed": "true"} if replayed else None)
