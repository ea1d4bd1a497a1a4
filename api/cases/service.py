"""The review queue as the routes and the worker see it: read, claim, decide, time out.

A decision is two steps. DECIDE moves the case once, atomically (engine.cases.scripts);
then its actions run (api.cases.actions) and ``finish`` keeps what they did. A retried
decision with the same body finds the case decided the same way and runs the actions
again if they had not finished (each is idempotent), or returns the kept result; a
different decision on a decided case is 409 ``case_conflict``. A crash between the two
steps leaves the case on ``acting``, where ``yutang worker`` finishes it.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from api.auth import Principal
from api.cases.actions import run_actions
from api.errors import CaseConflict, NotFound
from api.runtime import Runtime
from engine.cases.model import Case

audit = logging.getLogger("yutang.audit")

#: A decision whose actions have not finished after this long is taken over by the worker.
STALE_ACTING_S = 60


def reviewer_of(principal: Principal) -> str:
    return f"key:{principal.key_id}"


def role_of(principal: Principal) -> str:
    """The reviewer's role for metrics and the audit trail: reviewer, admin, platform."""
    return principal.role_name


async def load(runtime: Runtime, tenant: str, case_id: str) -> Case:
    case = await runtime.guard.call("cases", runtime.services.cases.get(tenant, case_id))
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    return case


async def case_view(runtime: Runtime, tenant: str, case_id: str) -> dict[str, Any]:
    """The case with its events, audit trail, what is at stake and the accounts it is linked to."""
    services, guard, now = runtime.services, runtime.guard, datetime.now(UTC)
    case = await load(runtime, tenant, case_id)
    events, log = await guard.call("cases", services.cases.details(tenant, case_id))
    grants = await guard.call("cases", services.ledger.customer_grants(tenant=tenant, customer=case.customer))
    clawbacks = await guard.call("cases", services.clawbacks.of(tenant=tenant, customer=case.customer))
    known = await guard.call("cases", services.store.known_identities(tenant=tenant, customer=case.customer))
    evidence = await guard.call("cases", services.clawbacks.history(tenant=tenant, customer=case.customer))
    values = {o.id: o.effect.value for o in runtime.rulesets.of(tenant).ruleset.offers}
    held: list[dict[str, Any]] = [
        {"offer": g.offer_id, "hold_id": g.hold_id, "value": values.get(g.offer_id, 0.0),
         "void_at": g.void_at.isoformat() if g.void_at else None}
        for g in grants if g.status == "held"
    ]  # fmt: skip
    withheld = [w for e in events for w in e.get("withheld", [])]
    links = [link for e in events for link in e.get("links", [])]
    return {
        **case.as_dict(now),
        "events": events,
        "log": log,
        "stake": {
            "withheld": withheld,
            "held": held,
            "value": round(case.value + sum(float(h["value"] or 0) for h in held), 2),
        },
        "linked": {
            "accounts": sorted(
                {link["linked_customer"] for link in links if link.get("linked_customer")}
                | {other for step in evidence for other in step.get("linked", [])}
            ),
            "links": links,
            "identities": dict(Counter(entity.value for entity, _ in known)),
        },
        "clawbacks": clawbacks,
    }


async def claim(runtime: Runtime, tenant: str, case_id: str, principal: Principal) -> dict[str, Any]:
    lease = runtime.rulesets.of(tenant).ruleset.review.lease_seconds
    reviewer, now = reviewer_of(principal), datetime.now(UTC)
    step = await runtime.guard.call(
        "cases", runtime.services.cases.claim(tenant, case_id, reviewer=reviewer, now=now, lease_s=lease)
    )
    if step.status == "missing":
        raise NotFound(f"no case {case_id!r}")
    if step.status == "taken":
        until = datetime.fromtimestamp(step.until or 0, UTC).isoformat()
        raise CaseConflict(f"case {case_id} is claimed by {step.holder} until {until}",
                           extra={"claimed_by": step.holder, "lease_until": until})  # fmt: skip
    if step.status == "decided":
        raise CaseConflict(f"case {case_id} is already {step.state}", extra={"state": step.state})
    audit.info("case %s claimed by %s (tenant %s)", case_id, reviewer, tenant)
    lease_until = datetime.fromtimestamp(step.until or 0, UTC)
    return {"id": case_id, "claimed_by": reviewer, "lease_until": lease_until.isoformat()}


async def decide(
    runtime: Runtime, tenant: str, case_id: str, *, principal: Principal, decision: str, note: str
) -> tuple[dict[str, Any], bool]:
    """The decided case and whether this replays an earlier identical decision."""
    reviewer, role = reviewer_of(principal), role_of(principal)
    return await apply_decision(runtime, tenant, case_id, reviewer=reviewer, role=role, decision=decision,
                                note=note, via="reviewer")  # fmt: skip


async def apply_decision(
    runtime: Runtime, tenant: str, case_id: str, *, reviewer: str, role: str, decision: str, note: str, via: str
) -> tuple[dict[str, Any], bool]:
    cases, now = runtime.services.cases, datetime.now(UTC)
    step = await runtime.guard.call(
        "cases", cases.decide(tenant, case_id, reviewer=reviewer, decision=decision, note=note, role=role, via=via,
                              now=now),
    )  # fmt: skip
    if step.status == "missing":
        raise NotFound(f"no case {case_id!r}")
    if step.status == "taken":
        message = f"case {case_id} is claimed by {step.holder}; claim it first"
        raise CaseConflict(message, extra={"claimed_by": step.holder})
    if step.status == "conflict":
        raise CaseConflict(f"case {case_id} is already {step.state}", extra={"state": step.state})
    replayed = step.status == "replay"
    if not replayed:
        runtime.metrics.case_decisions.labels(decision, role, via).inc()
        audit.info("case %s: %s by %s (%s, via %s) note=%r", case_id, decision, reviewer, role, via, note)  # T1: audit
    case = await load(runtime, tenant, case_id)
    if case.result is None and case.decision in ("approve", "deny"):
        events, _ = await runtime.guard.call("cases", cases.details(tenant, case_id))
        await run_actions(runtime, tenant, case, events)
        case = await load(runtime, tenant, case_id)
    return case.as_dict(now), replayed


async def resolve_due(runtime: Runtime, tenant: str, *, now: datetime | None = None) -> int:
    """Time out every case past its deadline by the pack's ``on_timeout``; finish stale decisions."""
    moment = now or datetime.now(UTC)
    cases, policy = runtime.services.cases, runtime.rulesets.of(tenant).ruleset.review
    resolved = 0
    for case_id in await runtime.guard.call("cases", cases.due(tenant, moment)):
        decision = {"deny": "deny", "approve": "approve"}.get(policy.on_timeout, "keep")
        try:
            note = f"no decision within the review SLA: {policy.on_timeout}"
            await apply_decision(runtime, tenant, case_id, reviewer="timeout", role="system", decision=decision,
                                 note=note, via="timeout")  # fmt: skip
            resolved += 1
        except (CaseConflict, NotFound):
            continue  # decided meanwhile: the timeout does nothing
    stale = moment - timedelta(seconds=STALE_ACTING_S)
    for case_id in await runtime.guard.call("cases", cases.unfinished(tenant, stale)):
        case = await load(runtime, tenant, case_id)
        if case.result is None:
            events, _ = await runtime.guard.call("cases", cases.details(tenant, case_id))
            await run_actions(runtime, tenant, case, events)
    return resolved


async def refresh_queue_metrics(runtime: Runtime) -> None:
    """Set the queue's size and age gauges from Redis (at each scrape)."""
    opened = await runtime.guard.call("cases", runtime.services.cases.open_since(sorted(runtime.keys.tenants)))
    now = datetime.now(UTC).timestamp()
    ages = sorted(max(now - at, 0.0) for at in opened)
    runtime.metrics.cases_open.set(len(ages))
    for name, q in (("0.5", 0.5), ("0.95", 0.95), ("1", 1.0)):
        runtime.metrics.case_age.labels(name).set(_quantile(ages, q))


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]
