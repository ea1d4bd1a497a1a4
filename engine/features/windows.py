"""Sliding-window features per entity: count, sum, distinct, first_seen, last_seen.

Every bucketed count / sum, exact distinct and first/last-seen stream of an entity is a
field of that entity's hash ``{<entity>}:e1`` (engine/features/entity_hash.py, op EH):
one HMGET and at most one HSET per entity and event, whatever the number of features.
Accuracy per kind:

**count and sum** (unless ``exact: true``): fixed sub-window buckets, a ring per stream.
The width is the largest of ``plan.BUCKET_WIDTHS`` at most 1/24 of the window (24h: 1h,
1h: 2m, 7d: 6h, 30d: 1d). A window (t - W, t] reads every bucket that overlaps it, so it
**never under-counts and over-counts at most the events of the last bucket width before
the window** (those in (t - W - width, t - W]): a value between the exact counts over W
and over W + width. An event older than the ring (its newest bucket minus the buckets
any window of the width reads, plus the future skew) is not counted. A repeated event id adds nothing: the
replay marker stops the script first (single server); on a cluster each other slot
keeps its own marker (op EG) before its entity hash.

**distinct** (exact): the newest ``DISTINCT_CAP`` (32) values of the stream by latest
sight, dropped once past its longest window (plus the future skew): a window is **exact while it holds at most
32 values and reads 32 beyond** (min(exact, 32)). The current value counts once, whatever
its earlier sight.

**count and sum with exact: true**: exact sliding windows, a sorted set per stream scored by event
time (count: one member per event id; sum: ``<event id hash>:<amount>``), trimmed on one
write in 8 to the longest window any feature reads from it, with a TTL of that window
plus slack. Members are keyed by event id, so recording the same event twice never
counts it twice.

``distinct`` with ``approx: true`` uses HyperLogLog instead (standard error 0.81%),
in 8 buckets of W/8 each: it counts values seen in the last W plus at most W/8
(the partly elapsed oldest bucket). Memory per entity is then at most 9 x 12 kB,
whatever the traffic.

first_seen / last_seen are the age, in the spec's unit, of the earliest / latest
*earlier* matching event (missing when there is none): the first and last time, read
before the current event widens them, kept for ``history_ttl_s`` after the last event.
Streams are assumed to arrive roughly in time order: an event older than events already
recorded for the same stream sees it as trimmed by them, and ages are never negative.

Referrers' and groups' distinct sets (referral_graph.py, group_buy.py) stay exact sorted
sets read by ``distinct_op`` (op DX).

**Dated by the caller** (red team, session 7). An event's time is the caller's, accepted
within the skew (±300 s) of the server's clock. A window read as (t - W, t] let a burst
hide from itself: each claim dated a little before the previous one read a window holding
only itself. So every count, sum and distinct counts what is already stored dated after
the window's start (nothing stored can be dated past the clock + the skew: the bucket ring
reads up to its newest bucket, the sorted sets to ``+inf``), and the window starts W before
the earlier of t and the server's clock (``RequestBuilder.read_t``): an event dated ahead
still sees what arrived in the W before it. For events dated at the clock (every honest
storefront, and replay, whose history is older than the clock and read in order) nothing
changes; a caller's dating can only add to a window, by at most the skew's worth.
"""

from __future__ import annotations

import random

from engine.features.builder import Arg, Batch, RequestBuilder
from engine.features.entity_hash import DISTINCT_CAP, EntityOp, entity_op
from engine.features.spec import Aggregate, Entity, WindowedFeature
from engine.features.streams import Stream, field_entity, in_entity_hash

HLL_BUCKETS = 8


def feeds(spec: WindowedFeature, event_type: str) -> bool:
    """Whether an event of ``event_type`` is recorded into ``spec``'s set."""
    return not spec.on or event_type in spec.on


#: The largest attribute a ``sum`` adds (in magnitude): a caller's 400-digit integer or 1e308 adds nothing, instead
#: of failing the event (no float holds it) or storing an infinite sum that fails every later read of the stream.
SUMMABLE_MAX = 1e12


def numeric_field(builder: RequestBuilder, name: str | None) -> float | None:
    """The number a ``sum`` adds for this event: ``amount`` or ``attr.<name>`` (within +-``SUMMABLE_MAX``)."""
    event = builder.event
    if name == "amount":
        return event.amount
    if name is not None and name.startswith("attr."):
        value = event.attributes.get(name.removeprefix("attr."))
        if isinstance(value, int | float) and not isinstance(value, bool) and -SUMMABLE_MAX <= value <= SUMMABLE_MAX:
            return float(value)
    return None


def distinct_member(builder: RequestBuilder, spec: WindowedFeature) -> str | None:
    """The id of the value a ``distinct`` counts (hashed when personal)."""
    entity = field_entity(spec.field)
    located = None if entity is None else builder.locate(entity)
    return None if located is None else located[0]


def emit(builder: RequestBuilder, spec: WindowedFeature, index: int) -> None:
    """Add the ops recording (when fed) and reading ``spec`` for this event.

    A stream of its entity's hash is emitted by ``emit_streams`` with the plan's others
    (the feature store's path); here, alone, for a caller emitting one spec.
    """
    if in_entity_hash(spec):
        for entity, streams in builder.plan.entity_streams:
            if entity is spec.by:
                _emit_streams(builder, entity, tuple(s for s in streams if s.index == index))
        return
    located = builder.locate(spec.by)
    if located is None:
        return  # missing: the event has no such entity
    tag = located[1]
    suffix = builder.plan.suffixes[index - 1]
    record = builder.record and (not spec.on or builder.event.type in spec.on)
    batch = builder.batch(tag)
    batch.owned.append(index)
    if spec.aggregate is _DISTINCT and spec.approx:
        _emit_hll(builder, spec, index, batch, f"{tag}:{suffix}", record)
    else:
        _emit_sorted_set(builder, spec, index, batch, suffix, f"{tag}:{suffix}", record)


def emit_streams(builder: RequestBuilder) -> None:
    """Every entity hash stream of the plan (``Plan.entity_streams``): one EH op per entity on the event."""
    for entity, streams in builder.plan.entity_streams:
        _emit_streams(builder, entity, streams)


_COUNT, _SUM, _DISTINCT = Aggregate.COUNT, Aggregate.SUM, Aggregate.DISTINCT
_FIRST_SEEN, _LAST_SEEN = Aggregate.FIRST_SEEN, Aggregate.LAST_SEEN


def _emit_sorted_set(
    builder: RequestBuilder,
    spec: WindowedFeature,
    index: int,
    batch: Batch,
    suffix: str,
    key: str,
    record: bool,
) -> None:
    key_index = batch.key(key)
    aggregate = spec.aggregate
    if record and key not in builder.written:
        member = _member(builder, spec, index)
        if member is not None:
            builder.written.add(key)
            window = builder.plan.windows[suffix]
            flag = "GT" if aggregate is _DISTINCT else ""
            trim = builder.trim(window) if trims(builder) else ""
            batch.ops.extend(("ZA", key_index, flag, member, builder.window_ttl(window), trim))
    if not builder.read_values:
        return
    after = builder.after(spec.window_seconds)
    if aggregate is _SUM:
        batch.ops.extend(("ZS", index, key_index, after))
    else:
        batch.ops.extend(("ZC", index, key_index, after, "+inf"))  # dated after t, stored before: counted


#: A referrer's or group's distinct set's TTL moves when an event starts a new 30-minute quantum past the set's
#: newest value: within the TTL's slack (1 h) with the future skew (5 min) to spare (plan.lua, op DX).
DISTINCT_TTL_QUANTUM_MS = 1_800_000


def distinct_op(
    builder: RequestBuilder,
    batch: Batch,
    key_index: int,
    member: str,
    window_ms: int,
    reads: tuple[tuple[int, int | None], ...],
) -> None:
    """Op DX on a sorted set of values scored by their latest time, trimmed to ``window_ms`` (-1: never).

    Records ``member`` ('' = nothing) and fills each (value index, window s) of ``reads`` with
    the values in that window, the member included; nothing at all when there is neither.
    """
    if not member and not reads:
        return
    trim = builder.trim(window_ms) if member and trims(builder) else ""
    widest = builder.low(None if window_ms < 0 else window_ms // 1000)
    batch.ops.extend(
        ("DX", key_index, member, builder.window_ttl(window_ms), trim, DISTINCT_TTL_QUANTUM_MS, widest, len(reads))
    )
    for value_index, seconds in reads:
        batch.ops.extend((value_index, builder.low(seconds)))


def _emit_streams(builder: RequestBuilder, entity: Entity, streams: tuple[Stream, ...]) -> None:
    """The streams of one entity (bucketed, exact distinct, first/last seen): fields of its hash (entity_hash.py).

    The hot loop of call construction (~20 streams per shipped-pack event): ``EntityOp.stream``
    and ``needs`` are inlined, everything static comes from the plan's ``Stream``.
    """
    located = builder.locate(entity)
    if located is None:
        return  # missing: the event has no such entity
    tag = located[1]
    event_type, read, t, record_any = builder.event.type, builder.read_values, builder.t, builder.record
    read_t = builder.read_t  # windows start W before min(t, now) ("Dated by the caller" above)
    settings = builder.settings
    skew = settings.max_future_skew_s * 1000
    slack = settings.ttl_slack_s * 1000
    op: EntityOp | None = None
    owned: list[int] = []
    by_field: dict[str, list[Arg]] = {}
    ops: list[Arg] = []
    ttl_at = 0
    for s in streams:
        on = s.on
        record = record_any and (not on or event_type in on)
        if not (record or read):
            continue
        if op is None:
            op = entity_op(builder, tag, builder.cluster and record_any and tag != builder.customer_tag())
            owned, by_field, ops, ttl_at = op.batch.owned, op.by_field, op.batch.ops, op.ttl_at
        owned.append(s.index)
        name, kind = s.name, s.kind
        stream = by_field.get(name)
        new = stream is None
        needs = 0
        if kind == "S":
            if stream is None:
                stream = [kind, name, 1 if record else 0]
                if record:
                    needs = (settings.history_ttl_s + settings.max_future_skew_s) * 1000
            if read:
                stream.extend((s.index, s.which, s.unit_ms))
        elif kind == "D":
            if stream is None:
                window_ms = s.window_ms
                member = ""
                if record and s.distinct_of is not None:
                    found = builder.locate(s.distinct_of)
                    member = "" if found is None else found[0]
                trim = -1 if window_ms < 0 else t - window_ms - skew  # what a read up to the skew before t still sees
                stream = [kind, name, DISTINCT_CAP, trim, member]
                if member:
                    needs = settings.history_ttl_s * 1000 if window_ms < 0 else window_ms + slack
            if read:  # a cadence's read is sent as its negative index (plan.lua, op EH)
                stream.extend((-s.index if s.cadence else s.index, -1 if s.low_back < 0 else read_t - s.low_back))
        else:
            width = s.width
            if stream is None:
                add: float = 0
                if record:
                    add = 1 if s.counts else (numeric_field(builder, s.spec.field) or 0)
                ring = (s.keep + skew) // width + 1  # an event dated up to the skew ahead shifts out nothing it reads
                stream = [kind, name, width, ring, add, t // width]
                if add:
                    needs = s.keep + slack
            if read:
                stream.extend((s.index, (read_t - s.span) // width))
        if new:
            by_field[name] = stream
            op.streams.append(stream)
            if needs > ops[ttl_at]:  # type: ignore[operator]  # the EH op's TTL slot holds an int
                ops[ttl_at] = needs


def trims(builder: RequestBuilder) -> bool:
    """Whether this write trims the sorted set it goes to: one in 8, at random.

    Reads bound every range by the window, so members left past it change no value; they
    only wait (~8 writes' worth per set on average, and the set's TTL) for the next trim.
    Not chosen by the event id: a caller picks its ids, and ids that never trim would keep
    a set it writes growing for as long as it writes (tests/engine/features/test_trim_choice.py).
    """
    return random.getrandbits(3) == 0


def _member(builder: RequestBuilder, spec: WindowedFeature, index: int) -> str | None:
    if spec.aggregate is _COUNT:
        return builder.event_hash
    if spec.aggregate is _SUM:
        amount = numeric_field(builder, spec.field)
        return None if amount is None else f"{builder.event_hash}:{amount!r}"
    entity = builder.plan.distinct_of[index - 1]
    located = None if entity is None else builder.locate(entity)
    return None if located is None else located[0]


def _emit_hll(
    builder: RequestBuilder, spec: WindowedFeature, index: int, batch: Batch, prefix: str, record: bool
) -> None:
    window_ms = (spec.window_seconds or 0) * 1000
    width = max(1, window_ms // HLL_BUCKETS)
    current = builder.t // width
    # from the window's start to the newest bucket an event dated ahead can have written ("Dated by the caller"),
    # at most HLL_BUCKETS past this event's own
    first = builder.read_t // width - HLL_BUCKETS
    ahead = (builder.now + builder.settings.max_future_skew_s * 1000) // width
    last = max(current, min(ahead, current + HLL_BUCKETS))
    indices = [batch.key(f"{prefix}:{b}") for b in range(first, last + 1)]
    member = distinct_member(builder, spec)
    key = f"{prefix}:{current}"
    if record and member is not None and key not in builder.written:
        builder.written.add(key)
        ttl = str(window_ms + width + builder.settings.ttl_slack_s * 1000)
        batch.ops.extend(("PA", indices[current - first], member, ttl))
    if builder.read_values:
        batch.ops.extend(("PC", index, len(indices), *indices))
