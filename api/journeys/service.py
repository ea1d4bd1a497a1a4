"""Journeys and community health on the request path: one call after scoring or recording.

The parts (runner, community, outbox, due queue) are built once per worker on the
services' Redis client. A failure here is logged and counted, never raised: the
event's own answer (decision, offers, holds) stands, and webhooks are only queued.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from api.runtime import Runtime
from engine.events import GROUP_TYPES, Event
from engine.journeys.actions import Parts
from engine.journeys.community import Community
from engine.journeys.due import DueQueue
from engine.journeys.runner import JourneyRunner, Touches
from engine.journeys.webhooks import Outbox
from engine.rule_engine import LoadedRuleSet

log = logging.getLogger("yutang.journeys")


class Automation:
    """The journey runner, community and outbox of one worker."""

    def __init__(self, runtime: Runtime) -> None:
        services = runtime.services
        self.queue = DueQueue(services.client)
        self.outbox = Outbox(services.client, self.queue)
        parts = Parts(services.client, services.ledger, services.gate, self.outbox)
        self.runner = JourneyRunner(parts=parts, store=services.store, queue=self.queue)
        self.community = Community(parts=parts, queue=self.queue)


def automation(runtime: Runtime) -> Automation:
    found: Automation | None = getattr(runtime.services, "_automation", None)
    if found is None:
        found = Automation(runtime)
        runtime.services._automation = found  # type: ignore[attr-defined]
    return found


async def apply_journeys(
    *, runtime: Runtime, tenant: str, event: Event, loaded: LoadedRuleSet, tier: str | None = None,
    features: Mapping[str, Any] | None = None, touches: Touches | None = None,
) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Move the customer along the pack's journeys, or record a group event; what changed.

    A scored event passes its tier and feature values: the journeys' conditions then
    need no read of their own (one round trip for all journeys), and its ``touches``:
    a step that can move nobody goes with the request's writes (:func:`after_touches`).
    """
    spec = loaded.ruleset.automation
    if not spec.journeys and not spec.community:
        return {}
    parts = automation(runtime)
    try:
        if event.type in GROUP_TYPES:
            signals = await parts.community.on_event(tenant=tenant, loaded=loaded, event=event)
            return {"signals": signals} if signals else {}
        changes = await parts.runner.on_event(
            tenant=tenant, loaded=loaded, event=event, features=features, tier=tier, touches=touches
        )
        return {"journeys": changes} if changes else {}
    except Exception as err:  # never fail the event for its journey
        log.warning("journeys not applied to %s: %s", event.event_id, err)
        runtime.metrics.degraded.labels(event.type, "journeys", "journeys").inc()
        return {}


async def after_touches(
    *, runtime: Runtime, tenant: str, event: Event, loaded: LoadedRuleSet, touches: Touches, replies: list[Any] | None
) -> None:
    """The deferred STEP's reply (``replies``: of the request's writes; None when they failed): logged, never raised."""
    if touches.index < 0:
        return
    try:
        if replies is None:
            raise RuntimeError("the writes it went with failed")
        await automation(runtime).runner.after_touch(
            tenant=tenant, loaded=loaded, event=event, touches=touches, reply=replies[touches.index]
        )
    except Exception as err:  # never fail the event for its journey
        log.warning("journeys not applied to %s: %s", event.event_id, err)
        runtime.metrics.degraded.labels(event.type, "journeys", "journeys").inc()
