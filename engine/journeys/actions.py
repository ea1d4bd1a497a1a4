"""Run a transition's or timeout's actions through the same budgets, caps and outbox as the API.

Each action is marked done (per firing or event, per position) once it succeeded,
so a worker that died half-way and whose item is claimed again finishes the rest
without repeating what was done. Offers are idempotent in the ledger anyway (the
grant's event id is derived from the firing); a webhook is only enqueued here.
A failing action is reported, never raised: it must not fail the event that
triggered it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.datastore.batches import run_batch, text
from engine.datastore.keys import CustomerKeys
from engine.events import Event
from engine.journeys.model import Action
from engine.journeys.webhooks import Outbox
from engine.rule_engine import LoadedRuleSet

log = logging.getLogger("yutang.journeys")
DONE_TTL_S = 400 * 86400


@dataclass(frozen=True, slots=True)
class ActionContext:
    tenant: str
    customer: str
    tier: str
    at: float
    source: str  # the event id or due item id that triggered the actions
    subject: dict[str, Any]  # what the webhook body says happened


@dataclass(frozen=True, slots=True)
class Parts:
    client: Any
    ledger: Any  # OfferLedger
    gate: Any  # ContactGate
    outbox: Outbox


def tags_key(tenant: str, customer: str) -> str:
    return f"{CustomerKeys(tenant, customer).base}:tags"


async def run_actions(
    parts: Parts, loaded: LoadedRuleSet, ctx: ActionContext, actions: Sequence[Action]
) -> list[dict[str, Any]]:
    if not actions:
        return []
    done_key = f"{CustomerKeys(ctx.tenant, ctx.customer).base}:jr:done"
    tag = hashlib.sha256(ctx.source.encode()).hexdigest()[:16]
    fields = [f"{tag}:{i}" for i in range(len(actions))]
    already = (await run_batch(parts.client, [("HMGET", done_key, *fields)]))[0]
    results: list[dict[str, Any]] = []
    for index, action in enumerate(actions):
        if already[index] is not None:
            results.append({"action": action.kind, "target": action.target, "result": text(already[index])})
            continue
        try:
            result = await _run(parts, loaded, ctx, action, f"{tag}-{index}")
        except Exception as err:  # reported, never raised into scoring
            log.warning("journey action %s %s failed: %s", action.kind, action.target, err)
            results.append({"action": action.kind, "target": action.target, "result": "error"})
            continue
        await run_batch(parts.client, [("HSET", done_key, fields[index], result), ("EXPIRE", done_key, DONE_TTL_S)])
        results.append({"action": action.kind, "target": action.target, "result": result})
    return results


async def _run(parts: Parts, loaded: LoadedRuleSet, ctx: ActionContext, action: Action, unique: str) -> str:
    at = datetime.fromtimestamp(ctx.at, UTC)
    if action.kind == "tag":
        await run_batch(parts.client, [("SADD", tags_key(ctx.tenant, ctx.customer), action.target)])
        return "tagged"
    if action.kind == "offer":
        offer = next(o for o in loaded.ruleset.offers if o.id == action.target)
        event = Event(event_id=f"jr-{unique}", type="coupon_claim", customer=ctx.customer, timestamp=at)
        grants = await parts.ledger.grant(
            tenant=ctx.tenant, event=event, evaluation_offers=[offer], zone=loaded.evaluator.zone
        )
        return str(grants[0].status) if grants else "not_granted"
    if action.kind == "contact":
        answer = await parts.gate.request(
            tenant=ctx.tenant,
            customer=ctx.customer,
            channel=action.target,
            tier=ctx.tier,
            at=at,
            policy=loaded.ruleset.contacts,
            zone=loaded.evaluator.zone,
        )
        return "contacted" if answer.allowed else f"refused:{answer.reason}"
    hook = loaded.ruleset.automation.webhooks[action.target]
    body = {**ctx.subject, "customer": ctx.customer, "tier": ctx.tier, "at": at.isoformat()}
    await parts.outbox.enqueue(tenant=ctx.tenant, hook=hook, delivery=unique, body=body, at=ctx.at)
    return "enqueued"
