"""Apply events to customers' journeys and fire their timeouts.

Event path (``on_event``, called by the API after scoring or recording): check the
conditions of the transitions on the event's type up front (engine.journeys.moves),
then one STEP script call for every journey the event concerns reads each stage and
takes the first allowed transition from it atomically; only when a customer moved,
arm the new stage's timeouts as due items and run the transition's actions. A
condition that reads the stay (days in stage, days silent) falls back to read,
evaluate, compare-and-set. Timeout path (``fire``, called
by ``yutang worker``): a timeout fires only if the customer is still in the stay it
was armed in; a ``silent`` timeout whose customer came back is pushed to the new
``last event + silence`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.datastore.batches import run_batch
from engine.datastore.keys import digest
from engine.events import Event
from engine.journeys.actions import ActionContext, Parts, run_actions
from engine.journeys.due import DueItem, DueQueue
from engine.journeys.model import Journey, Timeout, Transition
from engine.journeys.moves import Checks, Choice, Compiled, JourneyPlan, choices, log_entry
from engine.journeys.state import Applied, JourneyState, JourneyStore, Step, Stepped, stepped
from engine.rule_engine import LoadedRuleSet

MAX_RETRIES = 5
STAGE_KEEP_S = 400 * 86400


def stage_entries_key(tenant: str, journey: str, stage: str) -> str:
    """Zset customer -> first entry epoch: the cohorts of conversion KPIs."""
    from engine.datastore.keys import safe_id

    return f"yt:{{{safe_id(tenant)}:jr}}:{journey}:in:{stage}"


@dataclass(slots=True)
class Touches:
    """Where a scored event's STEP goes when it can move nobody: the request's writes, not a round trip of its own.

    A STEP is *touch-only* when no journey it concerns has a move allowed from any stage
    on this event (no transition on its type, or every condition false): it can only
    record the event (``last``, the seen set) and never changes the answer. So it rides
    the writes sent after the decision (one pipeline, in order, with the answer kept
    for retries); :meth:`JourneyRunner.after_touch` reads its reply to re-arm a silent
    timeout, as a STEP of its own would have done right away.
    """

    writes: list[Any]
    index: int = -1  # the STEP's place in ``writes``; -1: none was deferred
    plans: list[JourneyPlan] = field(default_factory=list)


class JourneyRunner:
    def __init__(self, *, parts: Parts, store: Any, queue: DueQueue) -> None:
        self.parts = parts
        self.features = store  # FeatureStore
        self.queue = queue
        self.state = JourneyStore(parts.client)
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, loaded: LoadedRuleSet) -> Compiled:
        version = loaded.ruleset.version
        if version not in self._compiled:
            self._compiled = {version: Compiled.build(loaded)}
        return self._compiled[version]

    # -- events ------------------------------------------------------------------

    async def on_event(
        self, *, tenant: str, loaded: LoadedRuleSet, event: Event, features: Mapping[str, Any] | None = None,
        tier: str | None = None, touches: Touches | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Apply ``event`` to every journey it concerns; the changes it made (stage moves and their actions).

        ``features``/``tier``: what scoring computed for the event, when it was scored;
        the customer's features are read only when a condition needs one they lack.
        One round trip for all journeys unless a move is made or a condition reads the stay;
        none with ``touches`` when the step can move nobody (:class:`Touches`).
        """
        compiled = self.compiled(loaded)
        plans = compiled.concerned(event.type)
        if not plans:
            return []
        checks, tier = await self._checks(tenant, loaded, compiled, plans, event, features, tier)
        chosen = [choices(plan, event, checks) for plan in plans]
        steps = [
            Step(p.journey.id, p.journey.start, tuple(c.wire for c in cs)) for p, cs in zip(plans, chosen, strict=True)
        ]
        if touches is not None and not any(chosen):
            touches.index, touches.plans = len(touches.writes), plans
            touches.writes.append(
                self.state.step_call(
                    tenant=tenant, customer=event.customer, event_id=event.event_id, epoch=event.epoch, steps=steps
                )
            )
            return []
        results = await self.state.step(
            tenant=tenant, customer=event.customer, event_id=event.event_id, epoch=event.epoch, steps=steps
        )
        changes = []
        for plan, options, result in zip(plans, chosen, results, strict=True):
            change = await self._settle(tenant, loaded, plan.journey, event, options, result, tier)
            if change:
                changes.append(change)
        return changes

    async def after_touch(self, *, tenant: str, loaded: LoadedRuleSet, event: Event, touches: Touches,
                          reply: Any) -> None:  # fmt: skip
        """A deferred touch-only STEP's reply: re-arm the silent timeouts of a customer who came back."""
        for plan, result in zip(touches.plans, stepped(reply), strict=True):
            if result.status == "ok":  # touch-only: never moved or ask; dup: applied before
                await self._settle(tenant, loaded, plan.journey, event, [], result, None)

    async def _checks(
        self, tenant: str, loaded: LoadedRuleSet, compiled: Compiled, plans: list[JourneyPlan], event: Event,
        features: Mapping[str, Any] | None, tier: str | None,
    ) -> tuple[Checks | None, str | None]:  # fmt: skip
        """The transitions' conditions on this event's facts, read only when what was given lacks a name."""
        names = compiled.checked_up_front(plans, event.type)
        if names is None:
            return None, tier
        values = compiled.given(features) if features is not None else {}
        if compiled.needs_read(names, features, tier):
            read, computed = await self._customer_facts(tenant, loaded, event.customer, event.epoch)
            values, tier = read, tier or computed
        facts = loaded.fact_builder.build(event, values)
        facts["journey.tier"] = tier
        return Checks(compiled.match, facts), tier

    async def _settle(
        self, tenant: str, loaded: LoadedRuleSet, journey: Journey, event: Event, options: list[Choice],
        result: Stepped, tier: str | None,
    ) -> dict[str, Any] | None:  # fmt: skip
        """After STEP: the post-move work, or the compare-and-set path when the script asked."""
        if result.status == "ask":
            return await self._apply(tenant, loaded, journey, event, None, tier)
        if result.status == "dup":
            return None
        if result.status == "ok":
            await self._rearm_silent(tenant, journey, event.customer, result.stage, result.seq, result.last,
                                     result.armed)  # fmt: skip
            return None
        taken = options[result.choice]
        return await self._moved(tenant, loaded, journey, event, taken.stage, taken.transition, result, tier)

    async def _moved(
        self, tenant: str, loaded: LoadedRuleSet, journey: Journey, event: Event, source: str, chosen: Transition,
        applied: Applied | Stepped, tier: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        """Arm the new stage's timeouts and run the transition's actions: what the move did."""
        customer = event.customer
        if tier is None and any(a.kind in ("contact", "webhook") for a in chosen.actions):
            tier = (await self._customer_facts(tenant, loaded, customer, event.epoch))[1]
        await self._enter(tenant, journey, customer, applied.stage, applied.seq, event.epoch, applied.last)
        ctx = ActionContext(
            tenant, customer, tier or "", event.epoch, event.event_id,
            {"event": "journey.transition", "journey": journey.id, "from": source, "to": chosen.to},
        )  # fmt: skip
        results = await run_actions(self.parts, loaded, ctx, chosen.actions)
        return {"journey": journey.id, "from": source, "to": chosen.to, "actions": results}

    async def _apply(
        self, tenant: str, loaded: LoadedRuleSet, journey: Journey, event: Event,
        features: Mapping[str, Any] | None, tier: str | None,
    ) -> dict[str, Any] | None:  # fmt: skip
        """Read, evaluate, compare-and-set (retried on a conflict): for conditions that read the stay."""
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
            applied = await self.state.apply(
                tenant=tenant, customer=customer, journey=journey.id, event_id=event.event_id, epoch=event.epoch,
                start=journey.start, expected=state.stage, to=chosen.to if chosen else "",
                log=log_entry(event, state.stage, chosen.to if chosen else ""),
            )  # fmt: skip
            if applied.status == "conflict":
                continue
            if applied.status == "dup":
                return None
            if applied.status == "ok":
                await self._rearm_silent(tenant, journey, customer, applied.stage, applied.seq, applied.last,
                                         state.armed)  # fmt: skip
                return None
            assert chosen is not None
            return await self._moved(tenant, loaded, journey, event, state.stage, chosen, applied, tier)
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
        facts = loaded.fact_builder.build(subject, features)
        if event is None:
            facts = {k: v for k, v in facts.items() if not k.startswith(("event.", "attr."))}
        facts |= {
            "journey.stage": state.stage,
            "journey.tier": tier,
            "journey.days_in_stage": (at - state.since) / 86400,
            "journey.days_silent": (at - max(state.last, state.since)) / 86400,
        }
        return list(self.compiled(loaded).match(facts)), tier

    async def _customer_facts(
        self, tenant: str, loaded: LoadedRuleSet, customer: str, at: float
    ) -> tuple[dict[str, Any], str]:
        """The customer's own features at ``at`` and the tier scoring would give them."""
        # the id is never stored; a digest keeps it within the 128 characters of an id for a 128-character customer
        view = Event(event_id=f"journey-{digest(customer)}", type="order", customer=customer,
                     timestamp=datetime.fromtimestamp(at, UTC))  # fmt: skip
        specs = self.compiled(loaded).customer_specs
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
        self, tenant: str, journey: Journey, customer: str, stage: str, seq: int, last: float, armed: Collection[str]
    ) -> None:
        """A customer who came back after a silent timeout fired gets it armed again."""
        due = {t.id: last + t.seconds for t in journey.timeouts_in(stage) if t.silent and t.id not in armed}
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
