"""Apply events to customers' journeys and fire their timeouts.

Event path (``on_event``, called by the API after scoring or recording): for each
journey, read the customer's stage, pick the first transition from that stage on
this event type whose condition holds, compare-and-set the move, arm the new stage's
timeouts as due items, run the transition's actions. Timeout path (``fire``, called
by ``yutang worker``): a timeout fires only if the customer is still in the stay it
was armed in; a ``silent`` timeout whose customer came back is pushed to the new
``last event + silence`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.backends.python_codegen import generate_matcher
from engine.events import Event
from engine.facts import build_facts
from engine.features.spec import Entity, ListFeature, WindowedFeature
from engine.journeys.actions import ActionContext, Parts, run_actions
from engine.journeys.due import DueItem, DueQueue
from engine.journeys.model import Journey, Timeout
from engine.journeys.state import JourneyState, JourneyStore
from engine.model import Predicate
from engine.offers.slots import run_batch
from engine.rule_engine import LoadedRuleSet

MAX_RETRIES = 5
STAGE_KEEP_S = 400 * 86400


def stage_entries_key(tenant: str, journey: str, stage: str) -> str:
    """Zset customer -> first entry epoch: the cohorts of conversion KPIs."""
    from engine.features.keys import safe_id

    return f"yt:{{{safe_id(tenant)}:jr}}:{journey}:in:{stage}"


@dataclass
class _Conditions:
    """Journey conditions compiled once per rule set (python backend), keyed ``<journey>:<name>``."""

    match: Any

    @classmethod
    def build(cls, loaded: LoadedRuleSet) -> _Conditions:
        predicates = []
        for journey in loaded.ruleset.automation.journeys:
            predicates += [
                Predicate(f"{journey.id}:t{t.index}", frozenset(), t.condition)
                for t in journey.transitions
                if t.condition is not None
            ]
            predicates += [
                Predicate(f"{journey.id}:{t.id}", frozenset(), t.condition) for t in journey.timeouts if t.condition
            ]
        return cls(generate_matcher(predicates))


class JourneyRunner:
    def __init__(self, *, parts: Parts, store: Any, queue: DueQueue) -> None:
        self.parts = parts
        self.features = store  # FeatureStore
        self.queue = queue
        self.state = JourneyStore(parts.client)
        self._conditions: dict[str, _Conditions] = {}

    def conditions(self, loaded: LoadedRuleSet) -> Any:
        version = loaded.ruleset.version
        if version not in self._conditions:
            self._conditions = {version: _Conditions.build(loaded)}
        return self._conditions[version].match

    # -- events ------------------------------------------------------------------

    async def on_event(
        self, *, tenant: str, loaded: LoadedRuleSet, event: Event, features: Mapping[str, Any] | None = None,
        tier: str | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Apply ``event`` to every journey; the changes it made (stage moves and their actions)."""
        changes = []
        for journey in loaded.ruleset.automation.journeys:
            change = await self._apply(tenant, loaded, journey, event, features, tier)
            if change:
                changes.append(change)
        return changes

    async def _apply(
        self, tenant: str, loaded: LoadedRuleSet, journey: Journey, event: Event,
        features: Mapping[str, Any] | None, tier: str | None,
    ) -> dict[str, Any] | None:  # fmt: skip
        customer = event.customer
        for _ in range(MAX_RETRIES):
            state = await self.state.read(tenant=tenant, customer=customer, journey=journey.id, start=journey.start)
            candidates = [t for t in journey.transitions if state.stage in t.sources and event.type in t.on]
            chosen = None
            if candidates:
                matched, tier = await self._match(tenant, loaded, journey, state, customer, event, features, tier)
                chosen = next(
                    (t for t in candidates if t.condition is None or f"{journey.id}:t{t.index}" in matched), None
                )
            entry = json.dumps(
                {"at": event.epoch, "from": state.stage, "to": chosen.to if chosen else "", "by": event.type,
                 "event": event.event_id}, separators=(",", ":"),
            )  # fmt: skip
            applied = await self.state.apply(
                tenant=tenant, customer=customer, journey=journey.id, event_id=event.event_id, epoch=event.epoch,
                start=journey.start, expected=state.stage, to=chosen.to if chosen else "", log=entry,
            )  # fmt: skip
            if applied.status == "conflict":
                continue
            if applied.status == "dup":
                return None
            if applied.status == "ok":
                await self._rearm_silent(tenant, journey, customer, applied.stage, applied.seq, applied.last, state)
                return None
            assert chosen is not None
            if tier is None and any(a.kind in ("contact", "webhook") for a in chosen.actions):
                tier = (await self._customer_facts(tenant, loaded, customer, event.epoch))[1]
            await self._enter(tenant, journey, customer, applied.stage, applied.seq, event.epoch, applied.last)
            ctx = ActionContext(
                tenant, customer, tier or "", event.epoch, event.event_id,
                {"event": "journey.transition", "journey": journey.id, "from": state.stage, "to": chosen.to},
            )  # fmt: skip
            results = await run_actions(self.parts, loaded, ctx, chosen.actions)
            return {"journey": journey.id, "from": state.stage, "to": chosen.to, "actions": results}
        return None

    async def _match(
        self, tenant: str, loaded: LoadedRuleSet, journey: Journey, state: JourneyState, customer: str,
        event: Event | None,
        features: Mapping[str, Any] | None, tier: str | None, now: float | None = None,
    ) -> tuple[list[str], str]:  # fmt: skip
        at = event.epoch if event else float(now or 0)
        subject = event or _view_event(journey.id, at, customer)
        if features is None or tier is None:
            read, computed = await self._customer_facts(tenant, loaded, customer, at)
            features = features if features is not None else read
            tier = tier or computed
        facts = build_facts(
            subject, features, feature_specs=loaded.ruleset.features, attributes=loaded.ruleset.attributes,
            zone=loaded.evaluator.zone,
        )  # fmt: skip
        if event is None:
            facts = {k: v for k, v in facts.items() if not k.startswith(("event.", "attr."))}
        facts |= {
            "journey.stage": state.stage,
            "journey.tier": tier,
            "journey.days_in_stage": (at - state.since) / 86400,
            "journey.days_silent": (at - max(state.last, state.since)) / 86400,
        }
        return list(self.conditions(loaded)(facts)), tier

    async def _customer_facts(
        self, tenant: str, loaded: LoadedRuleSet, customer: str, at: float
    ) -> tuple[dict[str, Any], str]:
        """The customer's own features at ``at`` and the tier scoring would give them."""
        view = Event(event_id=f"journey-{customer}", type="order", customer=customer,
                     timestamp=datetime.fromtimestamp(at, UTC))  # fmt: skip
        specs = [
            s for s in loaded.ruleset.features.values()
            if (isinstance(s, WindowedFeature) and s.by is Entity.CUSTOMER)
            or (isinstance(s, ListFeature) and s.entity is Entity.CUSTOMER)
        ]  # fmt: skip
        values = dict(await self.features.read(tenant=tenant, event=view, specs=specs))
        return values, loaded.evaluate(view, values).tier

    async def _enter(
        self, tenant: str, journey: Journey, customer: str, stage: str, seq: int, since: float, last: float
    ) -> None:
        due = {t.id: _due(t, since, last) for t in journey.timeouts_in(stage)}
        await self.state.arm(tenant=tenant, customer=customer, journey=journey.id, seq=seq, due=due)
        for timeout_id, at in due.items():
            await self._schedule(tenant, journey, customer, seq, timeout_id, at)
        key = stage_entries_key(tenant, journey.id, stage)
        await run_batch(
            self.parts.client, [("ZADD", key, "NX", repr(since), customer), ("SADD", "yt:due:tenants", tenant)]
        )

    async def _rearm_silent(
        self, tenant: str, journey: Journey, customer: str, stage: str, seq: int, last: float, before: JourneyState
    ) -> None:
        """A customer who came back after a silent timeout fired gets it armed again."""
        due = {t.id: last + t.seconds for t in journey.timeouts_in(stage) if t.silent and t.id not in before.armed}
        if due and await self.state.arm(tenant=tenant, customer=customer, journey=journey.id, seq=seq, due=due):
            for timeout_id, at in due.items():
                await self._schedule(tenant, journey, customer, seq, timeout_id, at)

    async def _schedule(
        self, tenant: str, journey: Journey, customer: str, seq: int, timeout_id: str, at: float
    ) -> None:
        item_id = f"jt|{journey.id}|{customer}|{seq}|{timeout_id}|{int(at)}"  # a moved timer is a new item
        payload = {"kind": "timeout", "journey": journey.id, "customer": customer, "seq": seq, "timeout": timeout_id}
        await self.queue.schedule(tenant=tenant, item_id=item_id, due_at=at, payload=payload)

    # -- timeouts ----------------------------------------------------------------

    async def fire(self, *, loaded: LoadedRuleSet, item: DueItem, now: float) -> dict[str, Any]:
        """Fire one timeout due item: ``fired`` (with its actions), ``skipped``, ``stale`` or ``moved``."""
        p = item.payload
        journey = loaded.ruleset.automation.journey(p["journey"])
        timeout = journey.timeout(p["timeout"]) if journey else None
        if journey is None or timeout is None:
            return {"status": "stale"}
        tenant, customer, seq = item.tenant, p["customer"], int(p["seq"])
        state = await self.state.read(tenant=tenant, customer=customer, journey=journey.id, start=journey.start)
        if state.seq != seq or state.stage not in timeout.stages:
            return {"status": "stale"}
        if timeout.silent and state.fired.get(timeout.id) != item.id:
            due = _due(timeout, state.since, state.last)
            if due > now:  # the customer came back: wait for the new silence to last
                await self.state.arm(
                    tenant=tenant, customer=customer, journey=journey.id, seq=seq, due={timeout.id: due}
                )
                await self._schedule(tenant, journey, customer, seq, timeout.id, due)
                return {"status": "moved", "due": due}
        matched, tier = await self._match(tenant, loaded, journey, state, customer, None, None, None, now=now)
        applies = timeout.condition is None or f"{journey.id}:{timeout.id}" in matched
        entry = json.dumps({"at": now, "from": state.stage, "to": (timeout.to or "") if applies else "",
                            "by": f"timeout:{timeout.id}", "fired": applies}, separators=(",", ":"))  # fmt: skip
        status = await self.state.fire(
            tenant=tenant, customer=customer, journey=journey.id, timeout_id=timeout.id, item_id=item.id, seq=seq,
            to=(timeout.to or "") if applies else "", epoch=now, log=entry,
        )  # fmt: skip
        if status == "stale":
            return {"status": "stale"}
        if not applies:
            return {"status": "skipped", "timeout": timeout.id}
        if timeout.to and status == "fired":
            await self._enter(tenant, journey, customer, timeout.to, seq + 1, now, state.last)
        ctx = ActionContext(
            tenant, customer, tier, now, item.id,
            {"event": "journey.timeout", "journey": journey.id, "timeout": timeout.id, "stage": state.stage},
        )  # fmt: skip
        results = await run_actions(self.parts, loaded, ctx, timeout.actions)
        return {"status": "fired", "timeout": timeout.id, "customer": customer, "tier": tier, "actions": results}

    # -- reading -----------------------------------------------------------------

    async def view(self, *, tenant: str, loaded: LoadedRuleSet, customer: str, limit: int = 20) -> list[dict[str, Any]]:
        """Each journey's stage, armed timeouts (due when) and recent moves, for the customer view."""
        out = []
        for journey in loaded.ruleset.automation.journeys:
            state = await self.state.read(tenant=tenant, customer=customer, journey=journey.id, start=journey.start)
            history = await self.state.history(tenant=tenant, customer=customer, journey=journey.id, limit=limit)
            scheduled = [
                {"timeout": tid, "due_at": datetime.fromtimestamp(at, UTC).isoformat(),
                 "kind": "silent" if (t := journey.timeout(tid)) and t.silent else "after"}
                for tid, at in sorted(state.armed.items(), key=lambda kv: kv[1])
            ]  # fmt: skip
            out.append(
                {
                    "journey": journey.id,
                    "stage": state.stage,
                    "stage_label": journey.labels.get(state.stage, state.stage),
                    "since": datetime.fromtimestamp(state.since, UTC).isoformat() if state.since else None,
                    "scheduled": scheduled,
                    "history": [json.loads(h) for h in history],
                }
            )
        return out


def _due(timeout: Timeout, since: float, last: float) -> float:
    return (max(since, last) if timeout.silent else since) + timeout.seconds


def _view_event(journey: str, at: float, customer: str) -> Event:
    return Event(event_id=f"journey-{journey}", type="order", customer=customer,
                 timestamp=datetime.fromtimestamp(at, UTC))  # fmt: skip
