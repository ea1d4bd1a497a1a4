"""Score one event: record + read its features, evaluate, grant offers, remember the answer.

Round trips on the happy path: one for the features (the store pipelines every
entity), one for the journeys, one to reserve offer budgets when an offer is
eligible, and one for every write that follows the decision: the grants' history
and the answer kept for retries (and the customer's recent decisions). When Redis
fails, the event type's fail mode answers (open: allow, nothing granted; closed:
review), flagged ``degraded``.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from api.experiment_metrics import count_experiment_grants
from api.journeys.service import apply_journeys
from api.runtime import Runtime
from api.scoring.extras import price_offers
from api.scoring.options import ScoreOptions
from api.scoring.render import render_evaluation, render_fail_mode, render_grants
from api.services import encode
from engine.errors import StoreUnavailable
from engine.evaluation import Evaluation
from engine.events import Event
from engine.offers.results import Grant
from engine.offers.slots import Command, ScriptCall
from engine.rule_engine import LoadedRuleSet

ROUTE = "/v1/score"

PendingWrites = list[ScriptCall | Command]


@dataclass(frozen=True, slots=True)
class Scored:
    """The answer to one event: as a dict, as the JSON sent (and kept for retries), and whether replayed."""

    body: dict[str, Any]
    payload: bytes
    replayed: bool


async def score_event(
    *,
    runtime: Runtime,
    tenant: str,
    event: Event,
    idempotency_key: str | None,
    options: ScoreOptions | None = None,
) -> Scored:
    """The answer to ``event``: a fresh one, or the first answer when this is a retry."""
    started = time.perf_counter()
    loaded = runtime.rulesets.current  # one reference for the whole request
    services, guard, metrics = runtime.services, runtime.guard, runtime.metrics
    alias = idempotency_key if idempotency_key and idempotency_key != event.event_id else None
    try:
        if alias:
            earlier = await _recall(runtime, tenant, alias)
            if earlier is not None:
                return earlier
        specs = loaded.ruleset.record_plan[event.type]
        snapshot = await guard.call("features", services.store.record_and_read(tenant=tenant, event=event, specs=specs))
    except StoreUnavailable as err:
        body = _degraded(runtime, loaded, event, "features", str(err))
        return Scored(body, encode(body), replayed=False)
    after_features = time.perf_counter()
    if snapshot.replayed:
        earlier = await _recall_quietly(runtime, tenant, event.event_id)
        if earlier is not None:
            return earlier
    evaluation = loaded.evaluate(event, snapshot.values)
    after_evaluation = time.perf_counter()
    body = render_evaluation(event, evaluation)
    body.update(
        await apply_journeys(
            runtime=runtime, tenant=tenant, event=event, loaded=loaded, tier=evaluation.tier, features=snapshot.values
        )
    )
    writes: PendingWrites = []
    grants = await _grant(runtime, tenant, event, loaded, evaluation, body, writes)
    if options is not None:
        await options.apply(runtime, tenant, event, loaded, evaluation, grants, body)
    after_offers = time.perf_counter()
    payload = encode(body)
    writes += runtime.services.remember_calls(tenant=tenant, event=event, alias=alias, body=body, payload=payload)
    await _write(runtime, writes)
    finished = time.perf_counter()
    stage = metrics.stage_seconds
    stage.labels("features").observe(after_features - started)
    stage.labels("evaluation").observe(after_evaluation - after_features)
    stage.labels("offers").observe(after_offers - after_evaluation)
    stage.labels("remember").observe(finished - after_offers)
    stage.labels("total").observe(finished - started)
    _count(runtime, event, evaluation, body)
    count_experiment_grants(metrics, loaded, body["offers"])
    return Scored(body, payload, replayed=False)


async def _grant(
    runtime: Runtime,
    tenant: str,
    event: Event,
    loaded: LoadedRuleSet,
    evaluation: Evaluation,
    body: dict[str, Any],
    writes: PendingWrites,
) -> list[Grant]:
    if not evaluation.offers:
        return []
    try:
        grants: list[Grant] = await runtime.guard.call(
            "offers",
            runtime.services.ledger.grant(
                tenant=tenant,
                event=event,
                evaluation_offers=evaluation.eligible,
                zone=loaded.evaluator.zone,
                stacked=loaded.evaluator.stacked,
                deferred=writes,
            ),
        )
    except StoreUnavailable as err:
        body["withheld"].extend({"offer": o.id, "why": "degraded"} for o in evaluation.offers)
        body["degraded"], body["degraded_reason"] = True, f"offers not granted: {err}"
        runtime.metrics.degraded.labels(event.type, "offers", "offers").inc()
        return []
    render_grants(body, grants, {o.id: o for o in loaded.ruleset.offers})
    price_offers(body, loaded, event)
    return grants


async def _write(runtime: Runtime, writes: PendingWrites) -> None:
    """Send the writes that follow the decision in one round trip; never fail the request.

    A failure is counted by the guard. The budgets are already reserved, so the answer
    stands; a retry re-evaluates, and the grants stay idempotent by event id.
    """
    with contextlib.suppress(StoreUnavailable):
        await runtime.guard.call("remember", runtime.services.writes.send(writes))


async def _recall(runtime: Runtime, tenant: str, key: str) -> Scored | None:
    raw = await runtime.guard.call("recall", runtime.services.store.recall_result(tenant=tenant, event_id=key))
    if raw is None:
        return None
    runtime.metrics.replays.labels(ROUTE).inc()
    return Scored(json.loads(raw), raw, replayed=True)


async def _recall_quietly(runtime: Runtime, tenant: str, key: str) -> Scored | None:
    try:
        return await _recall(runtime, tenant, key)
    except StoreUnavailable:
        return None


def _degraded(runtime: Runtime, loaded: LoadedRuleSet, event: Event, stage: str, why: str) -> dict[str, Any]:
    mode = loaded.ruleset.decision.fail_mode(event.type)
    body = render_fail_mode(event, loaded, mode, why)
    runtime.metrics.degraded.labels(event.type, mode.value, stage).inc()
    runtime.metrics.decisions.labels(event.type, body["decision"]).inc()
    return body


def _count(runtime: Runtime, event: Event, evaluation: Evaluation, body: dict[str, Any]) -> None:
    metrics = runtime.metrics
    metrics.decisions.labels(event.type, evaluation.decision.value).inc()
    for reason in evaluation.reasons:
        metrics.rule_hits.labels(reason.rule, "active").inc()
    for reason in evaluation.shadow:
        metrics.rule_hits.labels(reason.rule, "shadow").inc()
    for offer in body["offers"]:
        metrics.offers.labels(offer["offer"], offer["status"]).inc()
        if offer["remaining"] is not None:
            metrics.budget_remaining.labels(offer["offer"]).set(offer["remaining"])
    for withheld in body["withheld"]:
        why = withheld["why"]
        if why in _COUNTED:
            metrics.offers.labels(withheld["offer"], "withheld" if why == "risk" else why).inc()
        if why == "exhausted":
            metrics.budget_remaining.labels(withheld["offer"]).set(0)


#: Withheld reasons worth a series: risk gating and budgets. Tier, condition, window and
#: exclusivity are the pack working as written, on nearly every event.
_COUNTED = frozenset(
    {"risk", "exhausted", "customer_cap", "daily_cap", "weekly_cap", "monthly_cap", "no_beneficiary", "degraded"}
)
