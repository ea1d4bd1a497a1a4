"""Open and join group-buys: every join is scored like ``/v1/score`` first.

A join the decision withholds the offer for (``withhold_on``, by default review and
deny) is refused with reason ``risk``: a self-dealing group-buy filled from one
device never completes. Opening schedules the deadline as a due item; the worker
(``yutang worker``) closes the group then, exactly once.

The server's clock, not the event's, opens and joins a group (unless the deployment
trusts event times, for backfills): a leader who back-dated the opening within the skew
bound got a group born past its deadline, and a member who dated a join before the
deadline, or resent a join scored before it, joined after it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.errors import InvalidRequest
from api.runtime import Runtime
from api.scoring.service import score_event
from engine.events import Event
from engine.groupbuy.book import DEADLINE_KIND, GroupBuyBook, GroupState, JoinResult, new_group_id, offer_of
from engine.model import Decision, Offer
from engine.scheduler.queue import DueQueue

_PARTS: dict[int, tuple[GroupBuyBook, dict[str, DueQueue]]] = {}


def parts(runtime: Runtime) -> tuple[GroupBuyBook, dict[str, DueQueue]]:
    """The group-buy book and per-tenant due queues on this worker's Redis client (built once)."""
    client = runtime.services.client
    if id(client) not in _PARTS:
        _PARTS[id(client)] = (GroupBuyBook(client), {})
    return _PARTS[id(client)]


def queue_for(runtime: Runtime, tenant: str) -> DueQueue:
    _, queues = parts(runtime)
    if tenant not in queues:
        queues[tenant] = DueQueue(runtime.services.client, tenant)
    return queues[tenant]


def group_offer(runtime: Runtime, tenant: str, offer_id: str) -> Offer:
    offer = next((o for o in runtime.rulesets.of(tenant).ruleset.offers if o.id == offer_id), None)
    if offer is None or offer.group_buy is None:
        raise InvalidRequest(
            f"offer: {offer_id!r} is not a group-buy offer of the running pack",
            extra={"fields": [{"field": "offer", "message": "an offer with group_buy terms"}]},
        )
    return offer


def _join_event(event: Event, group_id: str) -> Event:
    if event.type != "group_buy_join":
        raise InvalidRequest(
            "join.type: must be group_buy_join",
            extra={"fields": [{"field": "join.type", "message": "group_buy_join"}]},
        )
    return event.model_copy(update={"group": group_id})


async def open_group(*, runtime: Runtime, tenant: str, offer_id: str, event: Event) -> dict[str, Any]:
    offer = group_offer(runtime, tenant, offer_id)
    group_id = new_group_id(offer.id, event.event_id)  # a retried opening names the same group
    return await _enter(runtime, tenant, offer, group_id, _join_event(event, group_id), opening=True)


async def join_group(*, runtime: Runtime, tenant: str, group_id: str, event: Event) -> dict[str, Any]:
    offer = group_offer(runtime, tenant, offer_of(group_id))
    return await _enter(runtime, tenant, offer, group_id, _join_event(event, group_id), opening=False)


async def _enter(
    runtime: Runtime, tenant: str, offer: Offer, group_id: str, event: Event, *, opening: bool
) -> dict[str, Any]:
    scored = (await score_event(runtime=runtime, tenant=tenant, event=event, idempotency_key=None)).body
    decision = Decision(scored["decision"])
    book, _ = parts(runtime)
    at = event.timestamp if runtime.settings.trust_event_time else datetime.now(UTC)
    if decision in offer.withhold_on:
        result = JoinResult("refused", None, "risk")
    else:
        member = {"event_id": event.event_id, "at": at.timestamp(), "amount": event.amount}
        if event.attributes.get("order_id") is not None:
            member["order_id"] = event.attributes["order_id"]
        if opening:
            opened = book.open(
                tenant=tenant,
                offer=offer,
                group_id=group_id,
                customer=event.customer,
                member=member,
                at=at,
            )
            result, deadline = await runtime.guard.call("groupbuy", opened)
            if result.outcome == "open":
                queue = queue_for(runtime, tenant)
                scheduled = queue.schedule(DEADLINE_KIND, group_id, deadline, {"tenant": tenant})
                await runtime.guard.call("groupbuy", scheduled)
        else:
            joined = book.join(
                tenant=tenant,
                offer=offer,
                group_id=group_id,
                customer=event.customer,
                member=member,
                at=at,
            )
            result = await runtime.guard.call("groupbuy", joined)
    state = await runtime.guard.call("groupbuy", book.state(tenant=tenant, group_id=group_id))
    return {
        "outcome": result.outcome,
        "reason": result.reason,
        "group": render_group(state) if state else None,
        "decision": decision.value,
        "score": scored,
    }


def render_group(state: GroupState) -> dict[str, Any]:
    return {
        "group_id": state.group_id,
        "offer": state.offer_id,
        "state": state.state,
        "size": state.size,
        "deadline": state.deadline,
        "leader": state.leader,
        "members": state.members,
    }
