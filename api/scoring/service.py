"""Score one event: record + read its features, evaluate, grant offers, remember the answer.

Round trips on the happy path: one for the features (the store pipelines every
entity), one for the journeys when the event may move a customer, one to reserve
offer budgets when an offer is eligible, and one for every write that follows the
decision: the grants' history, the answer kept for retries, the customer's recent
decisions, the protection dashboard's counters (engine/stats) and a journey step
that can move nobody (most scored events: it only records the event; see
engine.journeys.runner.Touches). When Redis
fails, the event type's fail mode answers (open: allow, nothing granted; closed:
review), flagged ``degraded``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from api.cases.opening import opening_for
from api.claims import Claim, ClaimState, Fingerprint, claim_of, claim_or_replay, conflict
from api.errors import IdempotencyConflict, InProgress, TimestampOutOfRange
from api.event_time import event_time_error
from api.experiment_metrics import count_experiment_grants
from api.journeys.service import after_touches, apply_journeys
from api.outcomes import late
from api.runtime import Runtime
from api.scoring.extras import price_offers
from api.scoring.one_trip import Fallback, Kept, grant_and_keep
from api.scoring.options import ScoreOptions
from api.scoring.render import render_evaluation, render_fail_mode, render_grants
from api.services import encode
from engine.datastore.batches import Command, ScriptCall
from engine.datastore.compose import Stopped
from engine.datastore.scripts import Call
from engine.errors import StoreUnavailable
from engine.evaluation import Evaluation
from engine.events import Event
from engine.features.store import FeatureSnapshot
from engine.journeys.runner import Touches
from engine.model import Decision, Offer
from engine.offers.results import REFUSED, Grant
from engine.rule_engine import LoadedRuleSet

ROUTE = "/v1/score"

PendingWrites = list[ScriptCall | Command]

#: Called between the evaluation and the grants: the eligible offers this request must not
#: grant, each with the reason shown in ``withheld`` (a group-buy join the book refused).
OfferGate = Callable[[LoadedRuleSet, Evaluation], Awaitable[Mapping[str, str]]]


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
    query: str = "",
    gate: OfferGate | None = None,
) -> Scored:
    """The answer to ``event``: a fresh one, or the first answer when this is a retry.

    Raises 409 (:class:`IdempotencyConflict`, :class:`InProgress`) for a reused event id
    or Idempotency-Key, 422 :class:`TimestampOutOfRange` for an event time off the clock.
    An Idempotency-Key is bound to the request only once its event is taken in.
    """
    started = time.perf_counter()
    loaded = runtime.rulesets.of(tenant)  # one reference for the whole request (the tenant's own set)
    fingerprint = Fingerprint.of(event)
    read = _ClaimAndRead(runtime, tenant, event, loaded, fingerprint)
    try:
        if idempotency_key is not None:
            earlier = await _claim_keyed(runtime, tenant, event, fingerprint, idempotency_key, query, read)
        else:
            earlier = await _claim(runtime, tenant, event, fingerprint, read)
        if earlier is not None:
            return earlier
        snapshot = read.snapshot
        assert snapshot is not None  # claimed: the features came with the claim
    except StoreUnavailable as err:
        if read.sent is not None:  # a retry must be evaluated, not told "in progress"
            with contextlib.suppress(StoreUnavailable):
                await runtime.guard.call(
                    "claim", runtime.services.claims.release(tenant=tenant, event_id=event.event_id, own=read.sent)
                )
        body = _degraded(runtime, loaded, event, "features", str(err))
        return Scored(body, encode(body), replayed=False)
    services, metrics = runtime.services, runtime.metrics
    after_features = time.perf_counter()
    evaluation = loaded.evaluate(event, snapshot.values, services.payers_of(tenant, event, loaded.ruleset.area_policy))
    after_evaluation = time.perf_counter()
    body = render_evaluation(event, evaluation)
    writes: PendingWrites = []
    touches = Touches(writes)  # a journey step that can move nobody goes with the writes (_keep)
    body.update(
        await apply_journeys(
            runtime=runtime, tenant=tenant, event=event, loaded=loaded, tier=evaluation.tier, features=snapshot.values,
            touches=touches,
        )
    )  # fmt: skip
    held_back = await gate(loaded, evaluation) if gate is not None else {}
    eligible = [o for o in evaluation.eligible if o.id not in held_back]
    body["withheld"].extend({"offer": o.id, "why": held_back[o.id]} for o in evaluation.offers if o.id in held_back)
    kept = None if options is not None else await grant_and_keep(
        runtime, tenant, event, loaded, evaluation, body, writes, eligible, held_back, fingerprint
    )  # fmt: skip
    if isinstance(kept, Kept):  # the reservations and the writes went in one round trip
        after_offers = time.perf_counter()
        payload, replies = kept.payload, kept.replies
    else:
        first = kept.first if isinstance(kept, Fallback) else None
        grants = await _grant(runtime, tenant, event, loaded, evaluation, body, writes, eligible, held_back, first)
        opening = opening_for(loaded, event, evaluation, body)  # a review goes to the queue, with the other writes
        if opening is not None:
            writes.append(services.cases.open_call(tenant, opening))
            metrics.cases_opened.inc()
        if options is not None:
            await options.apply(runtime, tenant, event, loaded, evaluation, grants, body)
        after_offers = time.perf_counter()
        payload, replies = await _keep(runtime, tenant, event, fingerprint, body, writes, loaded)
    await after_touches(runtime=runtime, tenant=tenant, event=event, loaded=loaded, touches=touches, replies=replies)
    if evaluation.decision is Decision.DENY and event.type == "order":  # a denied checkout's late evidence
        with contextlib.suppress(StoreUnavailable):  # the answer stands: only the watch is not written
            await late.on_denied_checkout(runtime, tenant, event, loaded, snapshot.values.get("payment.accounts_30d"))
    if evaluation.decision is Decision.DENY and event.type == "group_buy_join" and event.referrer:
        with contextlib.suppress(StoreUnavailable):  # a self-filled group-buy's late evidence, as above
            await late.on_self_filled_group(runtime, tenant, event, loaded)
    finished = time.perf_counter()
    stage = metrics.stage
    stage("features").observe(after_features - started)
    stage("evaluation").observe(after_evaluation - after_features)
    stage("offers").observe(after_offers - after_evaluation)
    stage("remember").observe(finished - after_offers)
    stage("total").observe(finished - started)
    _count(runtime, event, evaluation, body)
    count_experiment_grants(metrics, loaded, body["offers"])
    return Scored(body, payload, replayed=False)


class _ClaimAndRead:
    """The event id's claim and the event's features in one round trip: the claim gates the recording.

    On one server both are one script (engine/datastore/compose.py): a claim already taken
    (a retry, a reuse, a request still pending) stops it before anything is recorded, and
    its reply is read as :meth:`Claims.claim_event`'s. ``sent``: the claim as sent, with
    this request's token, so a failure frees only a claim this request took.
    """

    def __init__(
        self, runtime: Runtime, tenant: str, event: Event, loaded: LoadedRuleSet, fingerprint: Fingerprint
    ) -> None:
        self.runtime, self.tenant, self.event, self.fingerprint = runtime, tenant, event, fingerprint
        self.specs = loaded.ruleset.record_plan[event.type]
        self.sent: Call | None = None
        self.snapshot: FeatureSnapshot | None = None

    async def __call__(self) -> Claim:
        services, event = self.runtime.services, self.event
        gate = self.sent = services.claims.claim_call(
            tenant=self.tenant, event=event, fingerprint=self.fingerprint, token=secrets.token_hex(6)
        )
        recording = services.store.record_and_read(tenant=self.tenant, event=event, specs=self.specs, gate=gate)
        try:
            self.snapshot = await self.runtime.guard.call("features", recording)
        except Stopped as stopped:
            self.sent = None  # the claim was someone else's: never ours to free
            return claim_of(stopped.reply, self.fingerprint)
        return Claim(ClaimState.NEW)


async def _claim_keyed(
    runtime: Runtime, tenant: str, event: Event, fingerprint: Fingerprint, key: str, query: str, read: _ClaimAndRead
) -> Scored | None:
    """Bind the Idempotency-Key, then claim the event id as :func:`_claim` does.

    A key this request bound is let go again when the event is refused (422 for its
    time, 409 for a reused id): as at Stripe, only a request that was evaluated keeps
    its key, so a storefront that fixes its clock can resend under the same key.
    """
    claims = runtime.services.claims
    binding = await runtime.guard.call(
        "claim", claims.claim_key(tenant=tenant, key=key, fingerprint=fingerprint.with_query(query))
    )
    if binding.state is ClaimState.CONFLICT:
        raise conflict("Idempotency-Key", key, binding.fields)
    try:
        return await _claim(runtime, tenant, event, fingerprint, read)
    except (TimestampOutOfRange, IdempotencyConflict):
        if binding.state is ClaimState.NEW:
            with contextlib.suppress(StoreUnavailable):
                await runtime.guard.call("claim", claims.release_key(tenant=tenant, key=key))
        raise


async def _claim(
    runtime: Runtime, tenant: str, event: Event, fingerprint: Fingerprint, read: _ClaimAndRead
) -> Scored | None:
    """Claim the event id and read its features (None: evaluate it), or the earlier answer to replay; 409 / 422."""
    try:
        payload = await claim_or_replay(
            runtime.services.claims, runtime.guard, tenant=tenant, event=event, fingerprint=fingerprint,
            wait_s=runtime.settings.claim_wait_s, late=event_time_error(runtime.settings, event), attempt=read,
        )  # fmt: skip
    except InProgress:
        runtime.metrics.replays.labels(ROUTE).inc()
        raise
    return None if payload is None else _replayed(runtime, payload)


def _replayed(runtime: Runtime, payload: bytes) -> Scored:
    runtime.metrics.replays.labels(ROUTE).inc()
    return Scored(json.loads(payload), payload, replayed=True)


async def _keep(
    runtime: Runtime,
    tenant: str,
    event: Event,
    fingerprint: Fingerprint,
    body: dict[str, Any],
    writes: PendingWrites,
    loaded: LoadedRuleSet,
) -> tuple[bytes, list[Any] | None]:
    """Send the writes that follow the decision: the answer kept for retries, the dashboard's counters.

    One round trip, which also carries a journey step that can move nobody (its reply
    is returned with the others'; None when the writes failed). The budgets are already
    reserved, so a failure leaves the decision standing, but the answer says so
    (``degraded``): its history entry and the kept answer are lost, and a retry after
    the pending claim expires is evaluated again (the grants stay idempotent by event id).
    """
    services = runtime.services
    payload = encode(body)
    writes += services.decision_calls(tenant=tenant, event=event, body=body)
    writes += services.protection.calls(tenant=tenant, ruleset=loaded.ruleset, event=event, body=body)
    writes += services.claims.complete_calls(tenant=tenant, event=event, fingerprint=fingerprint, payload=payload)
    try:
        replies: list[Any] = await runtime.guard.call("remember", services.writes.send(writes))
    except StoreUnavailable as err:
        body["degraded"], body["degraded_reason"] = True, f"answer not kept (history, retries): {err}"
        runtime.metrics.degraded.labels(event.type, "kept", "remember").inc()
        return encode(body), None
    return payload, replies


async def _grant(
    runtime: Runtime,
    tenant: str,
    event: Event,
    loaded: LoadedRuleSet,
    evaluation: Evaluation,
    body: dict[str, Any],
    writes: PendingWrites,
    eligible: list[Offer],
    held_back: Mapping[str, str],
    first: list[Any] | None = None,
) -> list[Grant]:
    """Reserve ``eligible`` (``first``: the first round's replies, when they went with the speculated writes)."""
    if not eligible:
        return []
    try:
        grants: list[Grant] = await runtime.guard.call(
            "offers",
            runtime.services.ledger.grant(
                tenant=tenant,
                event=event,
                evaluation_offers=eligible,
                zone=loaded.evaluator.zone,
                stacked=loaded.evaluator.stacked,
                deferred=writes,
                now=time.time(),  # a trusted, back-dated event's hold must not end before it is answered
                first=first,
            ),
        )
    except StoreUnavailable as err:
        body["withheld"].extend({"offer": o.id, "why": "degraded"} for o in evaluation.offers if o.id not in held_back)
        body["degraded"], body["degraded_reason"] = True, f"offers not granted: {err}"
        runtime.metrics.degraded.labels(event.type, "offers", "offers").inc()
        return []
    render_grants(body, grants, {o.id: o for o in loaded.ruleset.offers})
    price_offers(body, loaded, event)
    return grants


def _degraded(runtime: Runtime, loaded: LoadedRuleSet, event: Event, stage: str, why: str) -> dict[str, Any]:
    mode = loaded.ruleset.decision.fail_mode(event.type)
    body = render_fail_mode(event, loaded, mode, why)
    runtime.metrics.degraded.labels(event.type, mode.value, stage).inc()
    runtime.metrics.decisions.labels(event.type, body["decision"]).inc()
    return body


def _count(runtime: Runtime, event: Event, evaluation: Evaluation, body: dict[str, Any]) -> None:
    metrics = runtime.metrics
    metrics.decision_count(event.type, evaluation.decision.value).inc()
    hit = metrics.rule_hit_count
    for reason in evaluation.reasons:
        hit(reason.rule, "active").inc()
    for reason in evaluation.shadow:
        hit(reason.rule, "shadow").inc()
    counted, left = metrics.offer_count, metrics.budget_left
    for offer in body["offers"]:
        counted(offer["offer"], offer["status"]).inc()
        if offer["remaining"] is not None:
            left(offer["offer"]).set(offer["remaining"])
    for withheld in body["withheld"]:
        why = withheld["why"]
        if why in _COUNTED:
            counted(withheld["offer"], "withheld" if why == "risk" else why).inc()
        if why == "exhausted":
            left(withheld["offer"]).set(0)


#: Withheld reasons worth a series: risk gating, the ledger's refusals (budgets, caps...)
#: and outages. Tier, condition, window and exclusivity are the pack working as written,
#: on nearly every event.
_COUNTED = REFUSED | {"risk", "degraded"}
