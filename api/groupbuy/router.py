"""``/v1/groupbuys``: open a group-buy (拼团), join it, read its state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import ReaderCaller, RuntimeDep, ScoreCaller
from api.error_responses import CLAIMS_EVENT_ID
from api.errors import NotFound
from api.groupbuy.schemas import GroupOut, JoinRequest, JoinResponse, OpenRequest
from api.groupbuy.service import join_group, open_group, parts, render_group

router = APIRouter(prefix="/v1/groupbuys", tags=["group-buy"])
GroupId = Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}\.[0-9a-f]{12}$")]


@router.post(
    "",
    response_model=JoinResponse,
    summary="Open a group: the leader's join is scored first",
    responses=CLAIMS_EVENT_ID,
)
async def open_(body: OpenRequest, runtime: RuntimeDep, caller: ScoreCaller) -> JoinResponse:
    return JoinResponse(**await open_group(runtime=runtime, tenant=caller.tenant, offer_id=body.offer, event=body.join))


@router.post(
    "/{group_id}/join",
    response_model=JoinResponse,
    summary="Join a group: scored like /v1/score",
    responses=CLAIMS_EVENT_ID,
)
async def join(group_id: GroupId, body: JoinRequest, runtime: RuntimeDep, caller: ScoreCaller) -> JoinResponse:
    answer = await join_group(runtime=runtime, tenant=caller.tenant, group_id=group_id, event=body.join)
    return JoinResponse(**answer)


@router.get(
    "/{group_id}",
    response_model=GroupOut,
    summary="A group's state and members (payments to refund)",
    responses={404: {"description": "no such group-buy"}},
)
async def read(group_id: GroupId, runtime: RuntimeDep, caller: ReaderCaller) -> GroupOut:
    book, _ = parts(runtime)
    state = await runtime.guard.call("groupbuy", book.state(tenant=caller.tenant, group_id=group_id))
    if state is None:
        raise NotFound(f"no group-buy {group_id!r}")
    return GroupOut(**render_group(state))
