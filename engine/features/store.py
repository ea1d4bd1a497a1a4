"""The feature store: record an event and read every feature a rule set needs, in one trip.

``record_and_read`` compiles the spec tuple once (:mod:`engine.features.plan`), turns
the event into ops (:mod:`windows`, :mod:`referral_graph`, :mod:`group_buy`,
:mod:`lists`) and runs them with ``scripts/plan.lua``: one EVALSHA on a single server,
one EVALSHA per entity hash slot in one pipeline on a cluster. Only the features in
``specs`` are recorded and read.

Idempotency: the first sight of ``(tenant, event_id)`` stores the values it returned
under ``{<tenant>:cus:<customer>}:ev:<event hash>`` for ``replay_ttl_s``; a second
sight changes no counter and returns those values with ``replayed=True``. On a single
server this is atomic inside the script. On a cluster the marker lives in the
customer's slot: every set is keyed by event id so the other slots' writes of a
replay are no-ops, and the snapshot is completed in a second, dependent step (a
replay racing that step, or arriving after the rule set changed, gets the current
values read without recording, still flagged ``replayed``).

Event time drives every window (replays and backtests compute what live traffic
did); times more than ``max_future_skew_s`` (5 min) ahead of this host's clock are
clamped to it. See docs/features.md for each feature's exact semantics.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from engine.datastore.compose import run_gated
from engine.datastore.scripts import AnyCall, AnyRedis, Call, Script, guarded, is_cluster, run_batch
from engine.errors import StoreUnavailable
from engine.events import Event, is_payment
from engine.features import (
    bindings,
    code_origin,
    group_buy,
    links,
    lists,
    outcome_device,
    referral_graph,
    referral_refunds,
    referral_tree,
    referrer_paid,
    windows,
)
from engine.features.builder import LINK_PREFIX, Batch, RequestBuilder, StoreSettings
from engine.features.keys import KeyBuilder
from engine.features.lists import ListEntry, ListPage, ListStore
from engine.features.plan import Plan, compile_plan, in_entity_hash
from engine.features.spec import (
    BindingFeature,
    CodeOriginFeature,
    Entity,
    FeatureSpec,
    GroupFeature,
    ListKind,
    ReferralFeature,
    WindowedFeature,
)

PLAN_SCRIPT = Script.load("engine.features", "plan.lua")
LINKED_ENTITY: dict[str, Entity] = {prefix: entity for entity, prefix in LINK_PREFIX.items()}
Value = int | float | bool | None
_MAX_CACHED_PLANS = 256


@dataclass(frozen=True, slots=True)
class FeatureSnapshot:
    """Feature values for one event (None = missing); ``replayed`` on a repeated event id."""

    values: dict[str, Value]
    replayed: bool = False


class FeatureStore:
    """Records events into Redis and reads the features declared by a rule pack."""

    def __init__(self, client: AnyRedis, *, secret: bytes, settings: StoreSettings | None = None) -> None:
        self._client = client
        self._cluster = is_cluster(client)
        self._keys = KeyBuilder(secret)
        self._settings = settings or StoreSettings()
        self._plans: dict[int, Plan] = {}
        self._lists = ListStore(client, self._keys, self._settings)

    @property
    def settings(self) -> StoreSettings:
        return self._settings

    @property
    def lists(self) -> ListStore:
        """The live block / allow / watch lists of every tenant."""
        return self._lists

    async def known_identities(
        self, *, tenant: str, customer: str, by_payment: bool = False
    ) -> list[tuple[Entity, str]]:
        """The devices, ips, phones and addresses the customer used, newest first, as stored ids.

        The customer's ``links`` set (one ZREVRANGE), written on every scored event and
        outcome and capped at ``links_cap``; personal values are only their keyed hashes.
        ``by_payment``: only those used last by the time of the customer's latest paid order
        (``rg:own`` ``l``, read in the same round trip), when it has one and any of them was:
        a refund is counted on the device its payment was (engine/features/outcome_device.py).
        """
        tag = self._keys.tag(tenant, Entity.CUSTOMER, self._keys.entity_id(tenant, Entity.CUSTOMER, customer))
        cap = self._settings.links_cap - 1
        async with guarded("known identities"):
            if by_payment:
                async with self._client.pipeline(transaction=False) as pipe:
                    pipe.zrevrange(f"{tag}:links", 0, cap, withscores=True)
                    pipe.hget(f"{tag}:rg:own", "l")
                    scored, paid_at = await pipe.execute()
                members = [m for m, _ in scored]
                if paid_at is not None and (before := [m for m, at in scored if at <= float(paid_at)]):
                    members = before
            else:
                members = await self._client.zrevrange(f"{tag}:links", 0, cap)
        found: list[tuple[Entity, str]] = []
        for raw in members:
            prefix, _, entity_id = _text(raw).partition(":")
            entity = LINKED_ENTITY.get(prefix)
            if entity is not None and entity_id:
                found.append((entity, entity_id))
        return found

    async def linked_group(
        self, *, tenant: str, customer: str, window_s: int = 30 * 86_400, now_ms: int | None = None
    ) -> list[links.LinkedMember]:
        """The customers linked to ``customer`` in the last ``window_s`` and the identities they share.

        For a review case: the link features' own links (engine/features/links.py), newest first.
        """
        tag = self._keys.tag(tenant, Entity.CUSTOMER, self._keys.entity_id(tenant, Entity.CUSTOMER, customer))
        now = now_ms if now_ms is not None else int(time.time() * 1000)

        def tag_of(member: str) -> str:
            return self._keys.tag(tenant, Entity.CUSTOMER, member)

        async with guarded("linked group"):
            return await links.linked_group(self._client, tag_of, tag, low_ms=now - window_s * 1000)

    # -- scoring path ---------------------------------------------------------------

    async def record_and_read(
        self, *, tenant: str, event: Event, specs: Sequence[FeatureSpec], gate: AnyCall | None = None
    ) -> FeatureSnapshot:
        """Record the event into every spec it feeds, then return all specs' values.

        ``gate`` (an event id's claim) runs first, in the same script on one server: when it
        answers, nothing is recorded and :class:`~engine.datastore.compose.Stopped` is raised.
        """
        plan = self.plan(specs)
        builder = self._builder(plan, tenant, event, record=True)
        builder.add_marker("pending" if self._cluster else "full")
        builder.add_links()
        _emit_all(builder, plan)
        batches = list(builder.batches.values())
        calls = [_call(builder, b) for b in batches]
        results = await (
            run_batch(self._client, calls)
            if gate is None
            else run_gated(self._client, gate, calls, compose_them=not self._cluster)
        )
        replay = _replayed_snapshot(results)
        if replay is not None:
            return await self._replay(plan, tenant, event, replay)
        raw = _merge(plan, batches, results)
        taught = code_origin.settle(builder, batches, results, raw) if self._cluster else []
        then = self._complete_on_cluster(builder, batches, results, raw) if self._cluster else []
        then += [_call(builder, b) for b in taught]
        then += self._subtree_calls(builder, batches, results)
        if plan.links is not None:
            await self._link_round(builder, batches, results, raw, then)
        elif then:
            await run_batch(self._client, then)
        return FeatureSnapshot(values=_convert(plan, raw), replayed=False)

    async def read(self, *, tenant: str, event: Event, specs: Sequence[FeatureSpec]) -> dict[str, Value]:
        """Return the specs' values as of the event's time without recording anything.

        Unlike ``record_and_read`` the counts do not include this event.
        """
        plan = self.plan(specs)
        builder = self._builder(plan, tenant, event, record=False)
        _emit_all(builder, plan)
        batches = [b for b in builder.batches.values() if b.ops]
        if not batches:
            return dict.fromkeys(plan.names)
        results = await run_batch(self._client, [_call(builder, b) for b in batches])
        raw = _merge(plan, batches, results)
        if self._cluster:
            code_origin.settle(builder, batches, results, raw)  # no write: ``record`` is off
        if plan.links is not None:
            await self._link_round(builder, batches, results, raw, [])
        return _convert(plan, raw)

    async def record_outcome(self, *, tenant: str, event: Event, specs: Sequence[FeatureSpec]) -> bool:
        """Record an order_paid / refund / chargeback / label; False if already recorded.

        Windowed specs the event feeds are recorded; an ``order_paid`` also marks the
        payer's first paid order in its referrer's slot (for ``paid_share``), and a refund or
        chargeback the refunded payer there when a spec reads it (``refunded_invitees``).
        """
        plan = self.plan(specs)
        if outcome_device.wants_device(event, plan.specs):  # counted on the payer's newest device (one ZREVRANGE)
            refund = event.type in referral_refunds.REFUND_TYPES  # on the device its payment was counted on
            event = await outcome_device.on_newest_device(
                event, lambda: self.known_identities(tenant=tenant, customer=event.customer, by_payment=refund)
            )
        builder = self._builder(plan, tenant, event, record=True)
        builder.read_values = False
        builder.add_marker("outcome")
        builder.add_links()
        windows.emit_streams(builder)
        for index, spec in enumerate(plan.specs, start=1):
            if isinstance(spec, WindowedFeature) and not in_entity_hash(spec):
                windows.emit(builder, spec, index)
            elif isinstance(spec, BindingFeature):
                bindings.emit(builder, spec, index)
            elif isinstance(spec, CodeOriginFeature):
                code_origin.emit(builder, spec, index)
        refund = event.type in referral_refunds.REFUND_TYPES and referral_refunds.records(plan.specs)
        if is_payment(event) or refund:  # an order of 0 marks no paid invitee (engine.events.is_payment)
            referral_graph.emit_paid(builder)
        times = referrer_paid.records(plan.specs)
        if times or plan.referrer_paid or plan.links is not None:  # the payer's own slot: has it paid (net)
            referrer_paid.emit_record(builder, times=times)
        if plan.links is not None:
            links.emit(builder, plan.links)
        batches = list(builder.batches.values())
        results = await run_batch(self._client, [_call(builder, b) for b in batches])
        if _replayed_snapshot(results) is not None:
            return False
        referrer = _extra(batches, results, "ref")
        then: list[Call] = []
        if referrer is not None:
            mark = self._builder(plan, tenant, event, record=True)
            if refund:  # step 1's PV said whether the refund took back all the payer had paid
                referral_refunds.emit_mark(mark, referrer, all_back=_extra(batches, results, "void") == "1")
            else:
                referral_graph.emit_paid_mark(mark, referrer, _extra(batches, results, "ids") or "")
            then = [_call(mark, b) for b in mark.batches.values()]
        if plan.links is not None:
            await self._link_round(builder, batches, results, [], then)
        elif then:
            await run_batch(self._client, then)
        return True

    # -- lists ------------------------------------------------------------------------

    async def add_entry(
        self,
        *,
        tenant: str,
        entity: Entity,
        value: str,
        kind: ListKind,
        reason: str,
        author: str,
        expires_at: datetime | None = None,
    ) -> ListEntry:
        """Put ``value`` on the block / allow / watch list (replacing an entry of that kind)."""
        return await self._lists.add(
            tenant=tenant, entity=entity, value=value, kind=kind,
            reason=reason, author=author, expires_at=expires_at,
        )  # fmt: skip

    async def remove_entry(self, *, tenant: str, entity: Entity, value: str, kind: ListKind) -> bool:
        """Take ``value`` off one list; False when it was not on it."""
        return await self._lists.remove(tenant=tenant, entity=entity, value=value, kind=kind)

    async def get_entries(self, *, tenant: str, entity: Entity, value: str) -> list[ListEntry]:
        """The live entries of one value."""
        return await self._lists.get(tenant=tenant, entity=entity, value=value)

    async def list_entries(
        self,
        *,
        tenant: str,
        kind: ListKind | None = None,
        entity: Entity | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> ListPage:
        """A page of live entries, oldest first."""
        return await self._lists.page(tenant=tenant, kind=kind, entity=entity, limit=limit, cursor=cursor)

    async def ping(self) -> bool:
        """True when Redis answers."""
        try:
            async with guarded("ping"):
                return bool(await self._client.ping())
        except StoreUnavailable:
            return False

    # -- internals ----------------------------------------------------------------------

    def plan(self, specs: Sequence[FeatureSpec]) -> Plan:
        """The compiled plan of ``specs`` (cached by identity of the tuple)."""
        cached = self._plans.get(id(specs))
        if cached is not None and (cached.specs is specs or cached.specs == tuple(specs)):
            return cached
        if len(self._plans) >= _MAX_CACHED_PLANS:
            self._plans.clear()
        plan = compile_plan(specs)
        if plan.specs is specs:  # keyed by id only while the tuple itself is kept alive
            self._plans[id(specs)] = plan
        return plan

    def _builder(self, plan: Plan, tenant: str, event: Event, *, record: bool) -> RequestBuilder:
        return RequestBuilder(
            keys=self._keys, settings=self._settings, plan=plan, tenant=tenant,
            event=event, record=record, cluster=self._cluster,
        )  # fmt: skip

    async def _replay(self, plan: Plan, tenant: str, event: Event, stored: str) -> FeatureSnapshot:
        fingerprint, _, encoded = stored.partition("|")
        if fingerprint == plan.fingerprint and encoded:
            values = _convert(plan, _decode(encoded, plan.size))
            if plan.links is not None:  # computed after the snapshot was stored: read them again
                values.update(await self.read(tenant=tenant, event=event, specs=[s for _, s in plan.links.specs]))
            return FeatureSnapshot(values=values, replayed=True)
        values = await self.read(tenant=tenant, event=event, specs=plan.specs)
        return FeatureSnapshot(values=values, replayed=True)

    async def _link_round(
        self, builder: RequestBuilder, batches: list[Batch], results: list[Any], raw: list[Value], then: list[Call]
    ) -> None:
        """Round 2 of the link features (with ``then``, calls that also wait on round 1): fills ``raw``.

        One more round trip, and only when round 1 found peers or new links: write the new
        links on both sides, aggregate the members' facts in the script (engine/features/links.py).
        """
        graph = builder.plan.links
        assert graph is not None
        found = links.observe(builder, graph, batches, results)
        fused = links.fused_answers(batches, results)
        if fused is not None:  # one server: op LR did round 2 inside round 1
            if then:
                await run_batch(self._client, then)
            if builder.read_values:
                for index, value in links.values(builder, graph, found, fused).items():
                    raw[index - 1] = value
            return
        second = self._next_step(builder)
        second.read_values = builder.read_values
        links.emit_round_two(second, graph, found)
        round_two = [b for b in second.batches.values() if b.ops]
        calls = [_call(second, b) for b in round_two]
        answers = await run_batch(self._client, calls + then) if calls or then else []
        if builder.read_values:
            groups = links.group_answers(round_two, answers[: len(round_two)])
            for index, value in links.values(builder, graph, found, groups).items():
                raw[index - 1] = value

    def _next_step(self, builder: RequestBuilder) -> RequestBuilder:
        """A builder for a dependent step of the same request: same plan, event and clock."""
        return RequestBuilder(
            keys=self._keys, settings=self._settings, plan=builder.plan, tenant=builder.tenant,
            event=builder.event, record=builder.record, cluster=self._cluster, now_ms=builder.now,
        )  # fmt: skip

    def _subtree_calls(self, builder: RequestBuilder, batches: list[Batch], results: list[Any]) -> list[Call]:
        """A referral's next step: the invitee into the subtrees of its referrer's ancestors (referral_tree.py)."""
        event, plan = builder.event, builder.plan
        if event.type != "referral" or "sub" not in plan.referral_sets or event.referrer is None:
            return []
        ids = _extra(batches, results, "ids")
        if not ids:
            return []
        step = self._next_step(builder)
        referral_tree.emit_ancestors(step, ids)
        return [_call(step, b) for b in step.batches.values() if b.ops]

    def _complete_on_cluster(
        self, builder: RequestBuilder, batches: list[Batch], results: list[Any], raw: list[Value]
    ) -> list[Call]:
        """Phase 2 on a cluster: the invitee's upline, and the replay snapshot (the calls to run)."""
        calls: list[Call] = []
        tag = builder.customer_tag()
        batch = Batch(tag=tag)
        if builder.upline_pending is not None:
            chain = _extra(batches, results, "chain") or ""
            depth = int(_extra(batches, results, "depth") or 0)
            ids = _extra(batches, results, "ids") or ""
            paid = int(_extra(batches, results, "chain_paid") or 0)
            batch.ops.extend(referral_graph.upline_op(builder, batch, chain, depth, ids, paid))
        if builder.unpaid_pending and not _extra(batches, results, "paid"):
            batch.ops.extend(referrer_paid.unpaid_op(builder, batch))
        snapshot = f"{builder.plan.fingerprint}|{json.dumps(raw, separators=(',', ':'))}"
        batch.ops.extend(("MS", batch.key(builder.marker_key()), snapshot))
        calls.append(_call(builder, batch))
        return calls


_EMIT: dict[type, Callable[[RequestBuilder, Any, int], None]] = {
    WindowedFeature: windows.emit,
    ReferralFeature: referral_graph.emit,
    GroupFeature: group_buy.emit,
    BindingFeature: bindings.emit,
    CodeOriginFeature: code_origin.emit,
}


def _emit_all(builder: RequestBuilder, plan: Plan) -> None:
    windows.emit_streams(builder)  # the entity hashes' streams, by entity; the other specs one by one
    specs = plan.specs
    for index in plan.one_by_one:
        spec = specs[index - 1]
        _EMIT[type(spec)](builder, spec, index)
    if plan.links is not None:
        links.emit(builder, plan.links)
    for reads in plan.list_reads:  # reads of keys no script writes: their place is free
        lists.emit(builder, reads)


def _call(builder: RequestBuilder, batch: Batch) -> Call:
    return Call(PLAN_SCRIPT, batch.keys, batch.argv(builder.t, builder.now, builder.plan.size))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _replayed_snapshot(results: list[Any]) -> str | None:
    for result in results:
        if int(result[0]) == 1:
            return _text(result[1])
    return None


def _decode(encoded: str, size: int) -> list[Value]:
    """The values a script returned (cjson's array): orjson parses it in a fraction of ``json.loads``."""
    try:
        values = orjson.loads(encoded)
    except orjson.JSONDecodeError:  # what cjson writes and orjson refuses (none known): the standard library
        values = json.loads(encoded)
    return values if isinstance(values, list) and len(values) == size else [None] * size


def _merge(plan: Plan, batches: list[Batch], results: list[Any]) -> list[Value]:
    raw: list[Value] = [None] * plan.size
    for batch, result in zip(batches, results, strict=True):
        if not batch.owned:
            continue
        values = _decode(_text(result[1]), plan.size)
        for index in batch.owned:
            raw[index - 1] = values[index - 1]
    return raw


def _extra(batches: list[Batch], results: list[Any], name: str) -> str | None:
    """An extra output (``chain``, ``depth``, ``ref``, ``at``) of whichever batch has it."""
    for batch, result in zip(batches, results, strict=True):
        names = batch.extras + batch.deferred_extras if batch.deferred_extras else batch.extras
        if name in names:
            value = result[2 + names.index(name)]
            return None if value is None else _text(value)
    return None


def _convert(plan: Plan, raw: list[Value]) -> dict[str, Value]:
    """Counts as int, sums / ages / shares as float, flags as bool (see ``plan.value_type``)."""
    return {
        name: None if value is None else kind(value)
        for name, kind, value in zip(plan.names, plan.value_types, raw, strict=True)
    }
