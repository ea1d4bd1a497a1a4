"""Record an outcome: features, held rewards, and lists for reviewers' labels.

A ``label: fraud`` puts the customer on the block list and what the store knows the
customer by (the event's device, the customer's known devices, phones and addresses)
on the watch list; a chargeback puts the customer on the watch list; ``label: legit``
lifts the customer's entries and the watches its fraud label added
(``engine.outcome_lists``).
The first answer is remembered, so a retried outcome gets the same body.
"""

from __future__ import annotations

from typing import Any

from api.experiment_metrics import count_experiment_conversions
from api.journeys.service import apply_journeys
from api.runtime import Runtime
from api.services import encode
from engine.events import Event
from engine.outcome_lists import apply_outcome

ROUTE = "/v1/events"


async def record_outcome(*, runtime: Runtime, tenant: str, event: Event, author: str) -> tuple[dict[str, Any], bool]:
    """The response body and whether it replays the first answer for this event id."""
    services, guard = runtime.services, runtime.guard
    earlier = await guard.call("recall", services.recall(tenant=tenant, key=f"outcome:{event.event_id}"))
    if earlier is not None:
        runtime.metrics.replays.labels(ROUTE).inc()
        return earlier, True
    loaded = runtime.rulesets.current
    specs = loaded.ruleset.record_plan[event.type]
    await guard.call("features", services.store.record_outcome(tenant=tenant, event=event, specs=specs))
    changes = await guard.call("holds", services.ledger.on_outcome(tenant=tenant, event=event))
    moved = await guard.call("reservations", services.ledger.on_reservation_outcome(tenant=tenant, event=event))
    experiments = [o.experiment for o in loaded.ruleset.offers if o.experiment is not None]
    converted = await guard.call(
        "experiments", services.ledger.experiments.on_outcome(tenant=tenant, event=event, experiments=experiments)
    )
    count_experiment_conversions(runtime.metrics, loaded, converted)
    list_changes = await _apply_lists(runtime, tenant, event, author)
    moves = await apply_journeys(runtime=runtime, tenant=tenant, event=event, loaded=loaded)
    body = {
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
    await guard.call(
        "remember",
        services.store.remember_result(
            tenant=tenant,
            event_id=f"outcome:{event.event_id}",
            payload=encode(body),
            ttl_s=runtime.settings.idempotency_ttl_s,
        ),
    )
    runtime.metrics.outcomes.labels(event.type).inc()
    return body, False


async def _apply_lists(runtime: Runtime, tenant: str, event: Event, author: str) -> list[dict[str, str]]:
    """Blocks, watches and lifts as ``engine.outcome_lists`` says (replay applies the same)."""
    store = runtime.services.store
    changes = await runtime.guard.call("lists", apply_outcome(store, tenant=tenant, event=event, author=author))
    return [change.as_dict() for change in changes]
