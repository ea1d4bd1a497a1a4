"""Run an event log through a rule set (and a baseline) the way live traffic runs.

Per event, in log order, exactly what the API does: a scored event is recorded and
its features read with ``FeatureStore.record_and_read`` (times from the event), then
evaluated; an outcome goes through ``record_outcome``, and a reviewer's label or a
chargeback updates the live lists as ``/v1/events`` does. The packs' seed lists are
written first, as on deploy. With a baseline, both sets are evaluated from the one
snapshot (see :mod:`engine.replay.plans`). Evaluation happens in the judge
(:mod:`engine.replay.judge`), by default in a second process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.cases.links import SELF_FILLED_GROUP, links_of
from engine.datastore.batches import text
from engine.datastore.keys import safe_id
from engine.events import SCORED_TYPES, Event
from engine.features import outcome_device
from engine.features.keys import KeyBuilder
from engine.features.links import peers_key, untyped_link, untyped_reads
from engine.features.spec import Entity, ListKind
from engine.features.store import PLAN_SCRIPT, FeatureSnapshot, FeatureStore
from engine.model import SeedListEntry
from engine.outcome_lists import apply_outcome
from engine.replay.judge import LINKED_AT_CHECKOUT, PEERS, GrantNote, Item, Judge, PackSource
from engine.replay.ledger_feed import grant_commands
from engine.replay.log import Record
from engine.replay.pipeline import PipelinedClient
from engine.replay.plans import SharedPlan
from engine.replay.sandbox import Sandbox, sandbox
from engine.replay.worker import ProcessJudge


class AnyJudge(Protocol):
    plan: SharedPlan

    def take(self, items: list[Item]) -> None: ...

    def grants(self) -> list[GrantNote]: ...

    def summary(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass
class ReplayRun:
    """What one replay counted (the judge's summary) and how long the log took."""

    judged: dict[str, Any] = field(default_factory=dict)
    events: int = 0
    seconds: float = 0.0

    def summary(self, *, source: str = "") -> dict[str, Any]:
        return {
            "source": source,
            "events": self.events,
            "seconds": round(self.seconds, 2),
            "events_per_second": round(self.events / self.seconds) if self.seconds else None,
            "budgets": "applied in memory, in log order, with group fall-backs; held rewards cost on release",
            **self.judged,
        }


@dataclass
class _Flight:
    """A batch sent to Redis and not yet evaluated."""

    window: list[Record]
    tasks: Sequence[asyncio.Future[FeatureSnapshot | None]]
    sent: asyncio.Future[None]


class Replayer:
    """Feeds records through one sandboxed store and evaluates them with each rule set.

    Events go to Redis in batches of ``batch`` consecutive events, one pipeline each
    (:mod:`engine.replay.pipeline`), then are evaluated one by one in log order.
    Events whose store calls depend on an earlier answer run alone between batches.
    """

    def __init__(self, box: Sandbox, judge: AnyJudge, seeds: list[SeedListEntry], *, batch: int = 64) -> None:
        self.box = box
        self.judge = judge
        self.plan = judge.plan
        self.seeds = seeds
        self.batch = max(1, batch)
        self.pipe = PipelinedClient(box.client)
        self.batched = box.store_on(self.pipe)
        self.run = ReplayRun()
        self._invitees: set[str] = set()
        self._event_ids: set[str] = set()
        # late evidence at checkout (linked_at_checkout): asked of the lists on each paid order
        self._check_links = any("linked_at_checkout" in r.clawback.on for r in self.plan.rulesets)
        # holds for someone else (a referrer's gift): the releasing payer's strong links, as the ledger reads them
        self._releases = frozenset(
            o.hold.release_on for r in self.plan.rulesets for o in r.offers
            if o.hold is not None and o.beneficiary != "customer"
        )  # fmt: skip
        # a denied group-buy join linked to its leader (self_filled_group): the member's strong links
        self._self_filled = any(SELF_FILLED_GROUP in r.clawback.on for r in self.plan.rulesets)
        self._keys = KeyBuilder(box.secret)
        # the link metric ``rewards`` reads the ledger's grants: write the judge's there (ledger_feed.py)
        self._feed_grants = self.plan.reads_grants
        self._writes: list[asyncio.Future[Any]] = []

    async def seed_lists(self) -> None:
        """Write the seed block / allow / watch entries, as a deploy does; load the script."""
        await self.box.client.script_load(PLAN_SCRIPT.source)
        for entry in dict.fromkeys(self.seeds):
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
        if event.type == "referral" or _names_leader(event):  # a group-buy leader's reward is held for her too
            self._invitees.add(event.customer)
        return (
            repeated
            or event.type in ("label", "chargeback")
            or (event.type in self._releases | {"order_paid"} and event.customer in self._invitees)
            or outcome_device.wants_device(event, self.plan.specs[event.type])  # reads the payer's device first
        )

    async def _launch(
        self, window: list[Record], previous: _Flight | None, store: FeatureStore | None = None
    ) -> _Flight:
        """Build every event's script call, wait for the previous batch's answers, send this batch."""
        waiting = self.pipe.queued  # grant writes queued before this batch's calls
        tasks = [asyncio.ensure_future(self._record(store or self.batched, r.event)) for r in window]
        if store is None:
            while self.pipe.queued - waiting < len(tasks) and not all(t.done() for t in tasks):
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
        items: list[Item] = []
        for record, task in zip(flight.window, flight.tasks, strict=True):
            snapshot = task.result()
            values: Mapping[str, Any] | None = None if snapshot is None else snapshot.values
            if record.event.type == "order_paid" and await self._linked_at_checkout(record.event):
                values = {LINKED_AT_CHECKOUT: True}
            if record.event.type in self._releases and record.event.customer in self._invitees:
                values = {**(values or {}), PEERS: await self._peers(record.event.customer)}
            elif self._self_filled and values is not None and _names_leader(record.event):
                values = {**values, PEERS: await self._leader_peers(record.event)}  # after its links are written
            items.append((record.event, record.truth, record.family, values))
            if snapshot is None and record.event.type in ("label", "chargeback"):
                await self._lists(record.event)
        self.run.events += len(items)
        for start in range(0, len(items), 16):
            self.judge.take(items[start : start + 16])
            await asyncio.sleep(0)  # let the transport keep writing the batch now in flight
        if self._feed_grants:
            self._write_grants()
        return following

    def _write_grants(self) -> None:
        """Queue the judge's new grants for the next flush; a write that failed earlier is raised here."""
        done = [w for w in self._writes if w.done()]
        for write in done:
            write.result()
        self._writes = [w for w in self._writes if not w.done()]
        self._writes += [self.pipe.queue(*c) for c in grant_commands(self.box.tenant, self.judge.grants())]

    async def _record(self, store: FeatureStore, event: Event) -> FeatureSnapshot | None:
        specs = self.plan.specs[event.type]
        if event.type in SCORED_TYPES:
            return await store.record_and_read(tenant=self.box.tenant, event=event, specs=specs)
        await store.record_outcome(tenant=self.box.tenant, event=event, specs=specs)
        return None

    async def _linked_at_checkout(self, event: Event) -> bool:
        """Whether a paid order's identities are listed because of another account (engine/cases/links.py).

        Asked when its batch lands, not while the batch is built: a call awaited there would
        put the order behind the events after it on the pipe. The lists are the same either
        way: only labels and chargebacks change them, and they run alone.
        """
        if not self._check_links:
            return False
        return bool(await links_of(self.box.client, self._keys, tenant=self.box.tenant, event=event))

    async def _peers(self, customer: str) -> frozenset[str]:
        """The customer's strong links (``{C}:lk:peers``), which engine/offers/holds.py reads before a release."""
        return frozenset(text(m) for m in await self.box.client.zrange(peers_key(self.box.tenant, customer), 0, -1))

    async def _leader_peers(self, event: Event) -> frozenset[str]:
        """A join's strong links, its leader left out unless they share a device or a wallet (api/outcomes/late.py)."""
        peers, leader = await self._peers(event.customer), safe_id(event.referrer or "")
        if leader not in peers:
            return peers
        reads = untyped_reads(self._keys, self.box.tenant, event.customer, event.referrer or "", event)
        replies = [await self.box.client.execute_command(*read) for read in reads]
        return peers if untyped_link(replies) else peers - {leader}

    async def _lists(self, event: Event) -> None:
        """What ``/v1/events`` does to the lists (``engine.outcome_lists``): fraud blocks and watches, legit lifts."""
        await apply_outcome(self.box.store, tenant=self.box.tenant, event=event, author="replay")


def _names_leader(event: Event) -> bool:
    """A group-buy join from someone else's share link: its referrer is the group's leader."""
    return event.type == "group_buy_join" and bool(event.referrer) and event.referrer != event.customer


async def replay(
    records: Iterable[Record],
    new: PackSource,
    baseline: PackSource | None = None,
    *,
    batch: int = 64,
    in_process: bool = False,
) -> ReplayRun:
    """Replay ``records`` on a fresh sandboxed store; the judge runs in a second process unless ``in_process``."""
    sources = [new] + ([baseline] if baseline is not None else [])
    judge: AnyJudge = Judge([source.load() for source in sources]) if in_process else ProcessJudge(sources)
    try:
        async with sandbox() as box:
            seeds = [entry for ruleset in judge.plan.rulesets for entry in ruleset.seed_lists]
            replayer = Replayer(box, judge, seeds, batch=batch)
            await replayer.seed_lists()
            run = await replayer.feed(records)
        started = time.perf_counter()
        run.judged = judge.summary()
        run.seconds += time.perf_counter() - started  # the judge's last batches
        return run
    finally:
        judge.close()
