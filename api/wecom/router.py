"""``/v1/wecom/{tenant}/callback``: WeCom's URL check (GET) and its event callbacks (POST).

WeCom calls this URL itself, so there is no Bearer key: a callback is the tenant's
when it is signed with the tenant's token and decrypts with its EncodingAESKey
(docs/integrations.md). WeCom wants ``success`` in plain text, or it retries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse

from api.auth import TENANT_PATTERN
from api.deps import ReaderCaller, RuntimeDep
from api.wecom.schemas import WecomWeek
from api.wecom.service import Signed, receive, verify_url
from engine.events import ID_PATTERN
from engine.wecom.ledger import iso_week

router = APIRouter(prefix="/v1/wecom", tags=["wecom"])

Tenant = Annotated[str, Path(min_length=1, max_length=64, pattern=TENANT_PATTERN)]
Short = Annotated[str, Query(min_length=1, max_length=128, pattern=ID_PATTERN)]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid_xml: the body is not a WeCom callback message"},
    401: {
        "description": "the signature does not match the tenant's token, or it does not decrypt with its key "
        "(also for a tenant without WeCom: the answer does not say which tenants exist)"
    },
    422: {"description": "timestamp_out_of_range: an old callback sent again; or a query parameter is invalid"},
}


@router.get(
    "/{tenant}/callback",
    response_class=PlainTextResponse,
    summary="WeCom's URL verification: answers the decrypted echostr",
    responses=ERRORS,
)
async def wecom_verify_url(
    tenant: Tenant,
    runtime: RuntimeDep,
    msg_signature: Short,
    timestamp: Short,
    nonce: Short,
    echostr: Annotated[str, Query(min_length=1, max_length=4096)],
) -> PlainTextResponse:
    return PlainTextResponse(verify_url(runtime, tenant, Signed(msg_signature, timestamp, nonce), echostr))


@router.post(
    "/{tenant}/callback",
    response_class=PlainTextResponse,
    summary="A WeCom event callback (external contacts, customer groups): recorded once, answered 'success'",
    responses={**ERRORS, 503: {"description": "Redis unavailable: WeCom retries the callback"}},
)
async def wecom_callback(
    tenant: Tenant, request: Request, runtime: RuntimeDep, msg_signature: Short, timestamp: Short, nonce: Short
) -> PlainTextResponse:
    kind = await receive(runtime, tenant, Signed(msg_signature, timestamp, nonce), await request.body())
    return PlainTextResponse("success", headers={"X-Yutang-Wecom-Kind": kind})


@router.get(
    "/report",
    response_model=WecomWeek,
    summary="One ISO week of WeCom figures: each staff member's adds and deletion rate, each group's churn",
    responses={401: {"description": "no or invalid key"}, 403: {"description": "the key lacks a reading scope"}},
)
async def wecom_report(
    runtime: RuntimeDep,
    caller: ReaderCaller,
    week: Annotated[
        str | None, Query(pattern=r"^\d{4}-W\d{2}$", description="e.g. 2026-W49; default this week")
    ] = None,
) -> dict[str, Any]:
    week = week or iso_week(datetime.now(UTC))
    return await runtime.guard.call("wecom", runtime.services.wecom.week(tenant=caller.tenant, week=week))
