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
from engine.evaluation import Evaluation
from engine.events import Event
from engine.groupbuy.book import DEADLINE_KIND, GroupBuyBook, GroupState, JoinResult, new_group_id, offer_of
from engine.model import Decision, Offer
from engine.rule_engine import LoadedRuleSet
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
    """Score the join, let the book admit or refuse it, and only then grant the group's offer.

    The book decides between the evaluation and the grants (``score_event``'s gate), so a
    join refused as ``completed``, ``failed``, ``customer_limit``, ``total_limit`` or
    ``member`` grants nothing and says why in ``score.withheld``; other group-buy offers
    are never granted by this group's join (``other_group_buy``). A replayed join (same
    event id) answers its first score and asks the book again, which changes nothing.
    """
    decided: list[JoinResult] = []

    async def gate(loaded: LoadedRuleSet, evaluation: Evaluation) -> dict[str, str]:
        result = await _admit(runtime, tenant, offer, group_id, event, evaluation.decision, opening=opening)
        decided.append(result)
        held = {o.id: "other_group_buy" for o in loaded.ruleset.offers if o.group_buy and o.id != offer.id}
        if result.outcome not in ADMITTED:
            held[offer.id] = result.reason or result.outcome
        return held

    scored = await score_event(runtime=runtime, tenant=tenant, event=event, idempotency_key=None, gate=gate)
    if not scored.replayed:
        await runtime.observer.scored(tenant, event, scored.body)  # rule hits and the shadow report, as /v1/score
    decision = Decision(scored.body["decision"])
    result = decided[0] if decided else await _admit(runtime, tenant, offer, group_id, event, decision, opening=opening)
    book, _ = parts(runtime)
    state = await runtime.guard.call("groupbuy", book.state(tenant=tenant, group_id=group_id))
    return {
        "outcome": result.outcome,
        "reason": result.reason,
        "group": render_group(state) if state else None,
        "decision": decision.value,
        "score": scored.body,
    }


#: Outcomes that make the customer a member now: the group's offer is granted with them.
ADMITTED = frozenset({"open", "joined"})


async def _admit(
    runtime: Runtime, tenant: str, offer: Offer, group_id: str, event: Event, decision: Decision, *, opening: bool
) -> JoinResult:
    """Open or join the group in the book, unless the decision withholds the offer (``risk``)."""
    if decision in offer.withhold_on:
        return JoinResult("refused", None, "risk")
    book, _ = parts(runtime)
    at = event.timestamp if runtime.settings.trust_event_time else datetime.now(UTC)
    member = {"event_id": event.event_id, "at": at.timestamp(), "amount": event.amount}
    if event.attributes.get("order_id") is not None:
        member["order_id"] = event.attributes["order_id"]
    if not opening:
        joining = book.join(
            tenant=tenant, offer=offer, group_id=group_id, customer=event.customer, member=member, at=at
        )
        result: JoinResult = await runtime.guard.call("groupbuy", joining)
        return result
    opened = book.open(tenant=tenant, offer=offer, group_id=group_id, customer=event.customer, member=member, at=at)
    result, deadline = await runtime.guard.call("groupbuy", opened)
    if result.outcome == "open":
        scheduled = queue_for(runtime, tenant).schedule(DEADLINE_KIND, group_id, deadline, {"tenant": tenant})
        await runtime.guard.call("groupbuy", scheduled)
    return result


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
