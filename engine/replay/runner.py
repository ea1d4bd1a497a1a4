"""Run an event log through a rule set (and a baseline) the way live traffic runs.

Per event, in log order, exactly what the API does: a scored event is recorded and
its features read with ``FeatureStore.record_and_read`` (times from the event), then
evaluated; an outcome goes through ``record_outcome``, and a reviewer's label or a
chargeback updates the live lists as ``/v1/events`` does. The pack's seed lists are
written first, as on deploy. With a baseline, both sets are evaluated from the one
snapshot (see :mod:`engine.replay.plans`).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.events import SCORED_TYPES, Event
from engine.features.spec import Entity, ListKind
from engine.features.store import PLAN_SCRIPT, FeatureSnapshot, FeatureStore
from engine.replay.diff import DiffTally
from engine.replay.log import HONEST, Record
from engine.replay.pipeline import PipelinedClient
from engine.replay.plans import SharedPlan, shared_plan
from engine.replay.sandbox import Sandbox, sandbox
from engine.replay.tally import PackTally
from engine.rule_engine import LoadedRuleSet


@dataclass
class ReplayRun:
    """The tallies of one replay: the new set, the baseline (optional), their diff."""

    new: PackTally
    baseline: PackTally | None
    diff: DiffTally | None
    events: int = 0
    scored: int = 0
    outcomes: int = 0
    seconds: float = 0.0
    honest_customers: set[str] = field(default_factory=set)

    def summary(self, *, source: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": source,
            "events": self.events,
            "scored": self.scored,
            "outcomes": self.outcomes,
            "seconds": round(self.seconds, 2),
            "events_per_second": round(self.events / self.seconds) if self.seconds else None,
            "budgets": "applied in memory, in log order, with group fall-backs; held rewards cost on release",
            "new": self.new.summary(),
        }
        if self.baseline is not None and self.diff is not None:
            out["baseline"] = self.baseline.summary()
            out["diff"] = self.diff.summary()
        if self.new.labelled:
            out["honest_offers"] = self._honest_offers()
        return out

    def _honest_offers(self) -> dict[str, Any]:
        total = len(self.honest_customers)
        withheld = len(self.new.honest_withheld)
        out: dict[str, Any] = {
            "customers": total,
            "withheld_by_risk": withheld,
            "withheld_share": round(withheld / total, 4) if total else None,
        }
        if self.diff is not None:
            changed = len(self.diff.honest_offers_changed)
            out |= {"changed_vs_baseline": changed, "changed_share": round(changed / total, 4) if total else None}
            if self.baseline is not None:
                out["withheld_by_risk_baseline"] = len(self.baseline.honest_withheld)
        return out


@dataclass
class _Flight:
    """A batch sent to Redis and not yet evaluated."""

    window: list[Record]
    tasks: list[asyncio.Future[FeatureSnapshot | None]]
    sent: asyncio.Future[None]


class Replayer:
    """Feeds records through one sandboxed store and evaluates them with each rule set.

    Events go to Redis in batches of ``batch`` consecutive events, one pipeline each
    (:mod:`engine.replay.pipeline`), then are evaluated one by one in log order.
    Events whose store calls depend on an earlier answer run alone between batches.
    """

    def __init__(self, box: Sandbox, new: LoadedRuleSet, baseline: LoadedRuleSet | None = None, *,
                 batch: int = 64) -> None:
        self.box = box
        self.batch = max(1, batch)
        self.pipe = PipelinedClient(box.client)
        self.batched = box.store_on(self.pipe)
        self.packs: list[LoadedRuleSet] = [new] + ([baseline] if baseline is not None else [])
        self.plan: SharedPlan = shared_plan([p.ruleset for p in self.packs])
        tallies = [PackTally(p) for p in self.packs]
        self.run = ReplayRun(
            new=tallies[0],
            baseline=tallies[1] if baseline is not None else None,
            diff=DiffTally() if baseline is not None else None,
        )
        self._tallies = tallies
        self._invitees: set[str] = set()
        self._event_ids: set[str] = set()

    async def seed_lists(self) -> None:
        """Write every set's seed block / allow / watch entries, as a deploy does; load the script."""
        await self.box.client.script_load(PLAN_SCRIPT.source)
        seen: set[tuple[str, str, str]] = set()
        for pack in self.packs:
            for entry in pack.ruleset.seed_lists:
                if (entry.entity, entry.value, entry.kind) in seen:
                    continue
                seen.add((entry.entity, entry.value, entry.kind))
                await self.box.store.add_entry(
                    tenant=self.box.tenant, entity=Entity(entry.entity), value=entry.value, kind=ListKind(entry.kind),
                    reason=entry.reason, author="replay-seed", expires_at=entry.expires,
                )  # fmt: skip

    async def feed(self, records: Iterable[Record]) -> ReplayRun:
        """Replay ``records`` in order; may be called again with the log's continuation.

        Double-buffered: batch k is built and sent, then batch k-1 is evaluated while
        Redis runs batch k. Batches go out strictly one after another (k is sent only
        once k-1 is answered), so Redis sees the events in log order.
        """
        started = time.perf_counter()
        window: list[Record] = []
        flying: _Flight | None = None
        for record in records:
            if self._alone(record.event):
                flying = await self._land(flying, await self._launch(window, flying) if window else None)
                flying = await self._land(flying)  # everything before it is evaluated first
                window = []
                await self._land(await self._launch([record], None, self.box.store))
            else:
                window.append(record)
                if len(window) >= self.batch:
                    flying = await self._land(flying, await self._launch(window, flying))
                    window = []
        flying = await self._land(flying, await self._launch(window, flying) if window else None)
        await self._land(flying)
        self.run.seconds += time.perf_counter() - started
        return self.run

    def _alone(self, event: Event) -> bool:
        """Whether the event's store calls depend on an answer (or change lists): no batching."""
        repeated = event.event_id in self._event_ids
        self._event_ids.add(event.event_id)
        if event.type == "referral":
            self._invitees.add(event.customer)
        return (
            repeated
            or event.type in ("label", "chargeback")
            or (event.type == "order_paid" and event.customer in self._invitees)
        )

    async def _launch(self, window: list[Record], previous: _Flight | None, store: FeatureStore | None = None) -> _Flight:
        """Build every event's script call, wait for the previous batch's answers, send this batch."""
        tasks = [asyncio.ensure_future(self._record(store or self.batched, r.event)) for r in window]
        if store is None:
            while self.pipe.queued < len(tasks) and not all(t.done() for t in tasks):
                await asyncio.sleep(0)  # one call per event on a single server: all queued
        if previous is not None:
            await previous.sent
        sent = asyncio.ensure_future(self.pipe.flush())
        await asyncio.sleep(0)
        return _Flight(window, tasks, sent)

    async def _land(self, flight: _Flight | None, following: _Flight | None = None) -> _Flight | None:
        """Finish ``flight`` and evaluate its events in order; return ``following`` (now in flight)."""
        if flight is None:
            return following
        await flight.sent
        while not all(t.done() for t in flight.tasks):
            await asyncio.sleep(0)
            await self.pipe.flush()
        for index, (record, task) in enumerate(zip(flight.window, flight.tasks, strict=True)):
            snapshot = task.result()
            if snapshot is None:
                await self._outcome(record.event)
            else:
                self._scored(record, snapshot)
            if index % 8 == 7:
                await asyncio.sleep(0)  # let the transport keep writing the next batch
        return following

    async def _record(self, store: FeatureStore, event: Event) -> FeatureSnapshot | None:
        specs = self.plan.specs[event.type]
        if event.type in SCORED_TYPES:
            return await store.record_and_read(tenant=self.box.tenant, event=event, specs=specs)
        await store.record_outcome(tenant=self.box.tenant, event=event, specs=specs)
        return None

    def _scored(self, record: Record, snapshot: FeatureSnapshot) -> None:
        event, truth = record.event, record.truth
        evaluations = [
            pack.evaluate(event, self.plan.values_for(index, event.type, snapshot.values))
            for index, pack in enumerate(self.packs)
        ]
        for tally, evaluation in zip(self._tallies, evaluations, strict=True):
            tally.add(event, truth, evaluation)
        run = self.run
        run.events += 1
        run.scored += 1
        if truth == HONEST:
            run.honest_customers.add(event.customer)
        if run.diff is not None:
            run.diff.add(event, truth, evaluations[1], evaluations[0])

    async def _outcome(self, event: Event) -> None:
        for tally in self._tallies:
            tally.offers.outcome(event)
        await self._lists(event)
        self.run.events += 1
        self.run.outcomes += 1

    async def _lists(self, event: Event) -> None:
        """What ``/v1/events`` does to the lists: fraud blocks, chargebacks watch, legit clears."""
        store, tenant, why = self.box.store, self.box.tenant, f"replayed {event.type} {event.event_id}"
        if event.type == "label" and event.label == "fraud":
            await store.add_entry(tenant=tenant, entity=Entity.CUSTOMER, value=event.customer, kind=ListKind.BLOCK,
                                  reason=why, author="replay")
            if event.device:
                await store.add_entry(tenant=tenant, entity=Entity.DEVICE, value=event.device, kind=ListKind.WATCH,
                                      reason=why, author="replay")
        elif event.type == "chargeback":
            await store.add_entry(tenant=tenant, entity=Entity.CUSTOMER, value=event.customer, kind=ListKind.WATCH,
                                  reason=why, author="replay")
        elif event.type == "label" and event.label == "legit":
            for kind in (ListKind.BLOCK, ListKind.WATCH):
                await store.remove_entry(tenant=tenant, entity=Entity.CUSTOMER, value=event.customer, kind=kind)


async def replay(records: Iterable[Record], new: LoadedRuleSet, baseline: LoadedRuleSet | None = None, *,
                 batch: int = 64) -> ReplayRun:
    """Replay ``records`` on a fresh sandboxed store; return the tallies."""
    async with sandbox() as box:
        replayer = Replayer(box, new, baseline, batch=batch)
        await replayer.seed_lists()
        return await replayer.feed(records)

