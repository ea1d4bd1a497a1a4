"""``GET /v1/audit``: the caller's tenant's audit trail, newest first, filtered, paged, exportable.

Admin and platform keys (a platform key names the tenant in ``X-Yutang-Tenant``). The
trail is append-only: there is no route that edits or deletes an entry.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.audit.trail import Query as TrailQuery
from api.deps import AuditCaller, RuntimeDep


class AuditEntry(BaseModel):
    """One change: when, who (key id, never the key), role, action, target, versions, diff, source."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="the stream id: time-ordered, the cursor of the page after it")
    action: str


class AuditPage(BaseModel):
    tenant: str
    entries: list[AuditEntry]
    next_cursor: str | None


router = APIRouter(prefix="/v1/audit", tags=["audit"])

ACTION = r"^[a-z_]{1,32}(\.[a-z_]{1,32})?$"
CURSOR = r"^[0-9]{1,15}-[0-9]{1,10}$"
#: datetimes outside these are refused with 422 naming the parameter, never turned into out-of-range ids
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp(), datetime(2100, 1, 1, tzinfo=UTC).timestamp()


def _ms(name: str, moment: datetime | None) -> int | None:
    if moment is None:
        return None
    stamp = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()  # naive: UTC
    if not _EARLIEST <= stamp <= _LATEST:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", name), "msg": "must lie between 2000 and 2100", "input": None}]
        )
    return int(stamp * 1000)


@router.get(
    "",
    summary="The audit trail of the caller's tenant, newest first: who changed rules, lists, keys, tenants",
    response_model=AuditPage,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def audit(
    runtime: RuntimeDep,
    caller: AuditCaller,
    action: Annotated[str | None, Query(pattern=ACTION, description="e.g. rules.reload, or a family: rules")] = None,
    actor: Annotated[str | None, Query(pattern=r"^[0-9a-f]{8,12}$|^system$", description="a key id")] = None,
    since: Annotated[datetime | None, Query(description="entries at or after this time")] = None,
    until: Annotated[datetime | None, Query(description="entries at or before this time")] = None,
    cursor: Annotated[str | None, Query(pattern=CURSOR, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    format: Annotated[Literal["json", "jsonl"], Query(description="jsonl: every matching entry, one a line")] = "json",
) -> Response:
    query = TrailQuery(action, actor, _ms("since", since), _ms("until", until), cursor)
    trail = runtime.audit
    if format == "jsonl":
        headers = {"Content-Disposition": f'attachment; filename="{caller.tenant}-audit.jsonl"'}
        return StreamingResponse(
            _lines(trail.every(caller.tenant, query)), media_type="application/x-ndjson", headers=headers
        )
    entries, next_cursor = await runtime.guard.call("audit", trail.page(caller.tenant, query, limit=limit))
    body: dict[str, Any] = {"tenant": caller.tenant, "entries": entries, "next_cursor": next_cursor}
    return JSONResponse(body)


async def _lines(entries: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for entry in entries:
        yield (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
