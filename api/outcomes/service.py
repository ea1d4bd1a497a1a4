"""Record an outcome: features, held rewards, and lists for reviewers' labels.

A ``label: fraud`` puts the customer on the block list and what the store knows the
customer by (the event's device, the customer's known devices, phones and addresses)
on the watch list; a chargeback puts the customer on the watch list; ``label: legit``
lifts the customer's entries and the watches its fraud label added
(``engine.outcome_lists``).
Outcome event ids are claimed like scored ones (api.claims, their own space): a
retry with the same body gets the first answer, the same id with another body 409,
concurrent copies are recorded once.

Their times are held to the server's clock like scored events' (api.scoring.event_time):
paid orders, refunds and chargebacks feed the windows that gate money (``orders_365d``
decides who is "new", ``days_since_order`` who has lapsed) and a paid order releases a
held reward only before its ``void_at``, so an ``order_paid`` dated 2020 would keep a
payer "new" for ever and one dated before a lapsed hold's deadline would release it.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from api.claims import OUTCOME, Fingerprint, claim_or_replay
from api.event_time import event_time_error
from api.experiment_metrics import count_experiment_conversions
from api.journeys.service import apply_journeys
from api.outcomes import late
from api.runtime import Runtime
from api.services import encode
from engine.area import store as area
from engine.errors import StoreUnavailable
from engine.events import Event
from engine.outcome_lists import apply_outcome

ROUTE = "/v1/events"


async def record_outcome(
    *, runtime: Runtime, tenant: str, event: Event, author: str, evidence: str | None = None
) -> tuple[dict[str, Any], bool]:
    """The response body and whether it replays the first answer for this event id.

    ``evidence`` names the late-evidence cause when it is not the event's own (a denied
    case is recorded as a fraud label with ``evidence="case_denied"``).
    """
    services, guard = runtime.services, runtime.guard
    fingerprint = Fingerprint.of(event)
    earlier = await claim_or_replay(
        services.claims, guard, tenant=tenant, event=event, fingerprint=fingerprint,
        wait_s=runtime.settings.claim_wait_s, late=event_time_error(runtime.settings, event), space=OUTCOME,
    )  # fmt: skip
    if earlier is not None:
        runtime.metrics.replays.labels(ROUTE).inc()
        return json.loads(earlier), True
    try:
        body = await _record(runtime, tenant, event, author, evidence)
    except BaseException:
        with contextlib.suppress(StoreUnavailable):  # a retry must be recorded, not told "in progress"
            await guard.call("claim", services.claims.release(tenant=tenant, event_id=event.event_id, space=OUTCOME))
        raise
    await guard.call(
        "remember",
        services.writes.send(
            services.claims.complete_calls(
                tenant=tenant, event=event, fingerprint=fingerprint, payload=encode(body), space=OUTCOME
            )
        ),
    )
    runtime.metrics.outcomes.labels(event.type).inc()
    return body, False


async def _record(runtime: Runtime, tenant: str, event: Event, author: str, evidence: str | None) -> dict[str, Any]:
    services, guard = runtime.services, runtime.guard
    loaded = runtime.rulesets.of(tenant)
    specs = loaded.ruleset.record_plan[event.type]
    await guard.call("features", services.store.record_outcome(tenant=tenant, event=event, specs=specs))
    await guard.call("area", area.record(services.client, tenant, event))  # paid orders and refunds (engine/area)
    early = await late.before_release(runtime, tenant, event, loaded)  # linked at checkout: nothing to release
    changes = await guard.call("holds", services.ledger.on_outcome(tenant=tenant, event=event))
    moved = await guard.call("reservations", services.ledger.on_reservation_outcome(tenant=tenant, event=event))
    experiments = [o.experiment for o in loaded.ruleset.offers if o.experiment is not None]
    converted = await guard.call(
        "experiments", services.ledger.experiments.on_outcome(tenant=tenant, event=event, experiments=experiments)
    )
    count_experiment_conversions(runtime.metrics, loaded, converted)
    list_changes = await _apply_lists(runtime, tenant, event, author)
    moves = await apply_journeys(runtime=runtime, tenant=tenant, event=event, loaded=loaded)
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "type": event.type,
        "holds": [
            {
                "hold_id": c.hold_id,
                "offer": c.offer_id,
                "status": c.status,
                "reason": c.reason,
                "invitee": c.subject_id,
                "beneficiary": c.beneficiary_id,
            }
            for c in changes
        ],
        "lists": list_changes,
        **moves,
        "reservations": [
            {"reservation_id": m.reservation_id, "offer": m.offer_id, "status": m.status, "reason": m.reason}
            for m in moved
        ],
        "experiments": converted,
    }
    found = await late.after_outcome(runtime, tenant, event, loaded, early, evidence)
    if found is not None:
        body["late_evidence"] = found.as_dict()
    return body


async def _apply_lists(runtime: Runtime, tenant: str, event: Event, author: str) -> list[dict[str, str]]:
    """Blocks, watches and lifts as ``engine.outcome_lists`` says (replay applies the same)."""
    store = runtime.services.store
    changes = await runtime.guard.call("lists", apply_outcome(store, tenant=tenant, event=event, author=author))
    return [change.as_dict() for change in changes]
