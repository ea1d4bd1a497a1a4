"""``GET /v1/events/export``: the recorded events as a replay log (JSON lines)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import ExportCaller, RuntimeDep
from api.errors import ApiError
from api.recording.recorder import export_lines, recorded_count

router = APIRouter(prefix="/v1/events", tags=["recording"])


class RecordingOff(ApiError):
    status = 409
    code = "recording_off"


@router.get(
    "/export",
    summary="Recorded events (pseudonymized), oldest first, one JSON line each: a log for `yutang replay`",
    responses={
        200: {"content": {"application/x-ndjson": {}}},
        409: {"description": "recording is off (YUTANG_RECORD_EVENTS)"},
    },
)
async def export(
    runtime: RuntimeDep,
    caller: ExportCaller,
    limit: Annotated[int | None, Query(gt=0, description="at most this many (the oldest first)")] = None,
) -> StreamingResponse:
    if runtime.observer.recorder is None:
        raise RecordingOff("event recording is off: start the service with YUTANG_RECORD_EVENTS=1")
    client = runtime.services.client
    total = await runtime.guard.call("export", recorded_count(client, tenant=caller.tenant))
    lines = export_lines(client, tenant=caller.tenant, limit=min(limit or total, total))
    headers = {
        "Content-Disposition": f'attachment; filename="{caller.tenant}-events.jsonl"',
        "Yutang-Recorded-Events": str(total),
    }
    return StreamingResponse(lines, media_type="application/x-ndjson", headers=headers)
