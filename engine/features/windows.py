"""Sliding-window features per entity: count, sum, distinct, first_seen, last_seen.

**count and sum** (unless ``exact: true``) are kept in fixed sub-window buckets: one hash
per entity and stream, ``{<entity>}:bc:<by>:<on>:<width s>`` (sums ``bs:<field>:...``),
field ``t // width`` -> events (or amount) in that bucket. The width is the largest of
``plan.BUCKET_WIDTHS`` at most 1/24 of the window (24h: 1h, 1h: 2m, 7d: 6h, 30d: 1d).
A window (t - W, t] reads every bucket that overlaps it, so it **never under-counts and
over-counts at most the events of the last bucket width before the window** (those in
(t - W - width, t - W]): a value between the exact counts over W and over W + width.
One HINCRBY per event (a PEXPIRE and a trim of stale buckets only when a bucket is
new), one HGETALL per key read. A repeated event id adds nothing: the replay marker
stops the script first (single server); on a cluster each other slot keeps its own
marker (op EG) before its buckets.

Accuracy of the rest: **exact** sliding windows. A window of W ending at the event time t is
(t - W, t] at millisecond resolution. Each entity keeps a sorted set scored by event
time (count: one member per event id; sum: ``<event id hash>:<amount>``; distinct:
one member per distinct value, scored by the latest time it was seen), trimmed on
every write to the longest window any feature reads from it, with a TTL of that window
plus slack. Members are keyed by event id, so recording the same event twice never
counts it twice.

An exact ``distinct`` set is read once per event for all its windows (op DX: the newest
64 values of the longest window, newest first; a window that capped read may not cover
gets its own ZCOUNT) and its TTL is renewed only when the event starts a new 30-minute
quantum past the set's newest value (see ``DISTINCT_TTL_QUANTUM_MS``).

``distinct`` with ``approx: true`` uses HyperLogLog instead (standard error 0.81%),
in 8 buckets of W/8 each: it counts values seen in the last W plus at most W/8
(the partly elapsed oldest bucket). Memory per entity is then at most 9 x 12 kB,
whatever the traffic.

first_seen / last_seen are the age, in the spec's unit, of the earliest / latest
*earlier* matching event (missing when there is none): a hash of first and last time,
read before the current event widens it, kept for ``history_ttl_s`` after the last
event. Streams are assumed to arrive roughly in time order: an event older than
events already recorded for the same set sees the set as trimmed by them, and ages
are never negative.
"""

from __future__ import annotations

import random

from engine.features.builder import Batch, RequestBuilder
from engine.features.plan import bucket_keep_ms, bucket_width_s, field_entity
from engine.features.spec import UNIT_SECONDS, Aggregate, WindowedFeature

HLL_BUCKETS = 8


def feeds(spec: WindowedFeature, event_type: str) -> bool:
    """Whether an event of ``event_type`` is recorded into ``spec``'s set."""
    return not spec.on or event_type in spec.on


def numeric_field(builder: RequestBuilder, name: str | None) -> float | None:
    """The number a ``sum`` adds for this event: ``amount`` or ``attr.<name>``."""
    event = builder.event
    if name == "amount":
        return event.amount
    if name is not None and name.startswith("attr."):
        value = event.attributes.get(name.removeprefix("attr."))
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def distinct_member(builder: RequestBuilder, spec: WindowedFeature) -> str | None:
    """The id of the value a ``distinct`` counts (hashed when personal)."""
    entity = field_entity(spec.field)
    located = None if entity is None else builder.locate(entity)
    return None if located is None else located[0]


def emit(builder: RequestBuilder, spec: WindowedFeature, index: int) -> None:
    """Add the ops recording (when fed) and reading ``spec`` for this event."""
    located = builder.locate(spec.by)
    if located is None:
        return  # missing: the event has no such entity
    tag = located[1]
    batch = builder.batch(tag)
    batch.owned.append(index)
    suffix = builder.plan.suffixes[index - 1]
    record = builder.record and (not spec.on or builder.event.type in spec.on)
    aggregate = spec.aggregate
    if aggregate is _FIRST_SEEN or aggregate is _LAST_SEEN:
        _emit_seen(builder, spec, index, batch, f"{tag}:{suffix}", record)
    elif aggregate is _DISTINCT and spec.approx:
        _emit_hll(builder, spec, index, batch, f"{tag}:{suffix}", record)
    elif spec.bucketed:
        _emit_buckets(builder, spec, index, batch, tag, f"{tag}:{suffix}", record)
    elif aggregate is _DISTINCT:
        if index not in builder.plan.distinct_followers:
            _emit_distinct(builder, spec, index, batch, suffix, f"{tag}:{suffix}", record)
    else:
        _emit_sorted_set(builder, spec, index, batch, suffix, f"{tag}:{suffix}", record)


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
        batch.ops.extend(("ZC", index, key_index, after, "+inf" if aggregate is _DISTINCT else builder.t_arg))


#: A distinct set's TTL moves when an event starts a new 30-minute quantum past the set's newest
#: value: within the TTL's slack (1 h) with the future skew (5 min) to spare (plan.lua, op DX).
DISTINCT_TTL_QUANTUM_MS = 1_800_000


#: A first/last-seen hash's TTL (history + this + the future skew) moves on the first event of a day past its
#: last time, instead of on every event.
SEEN_TTL_QUANTUM_MS = 86_400_000


def _emit_distinct(
    builder: RequestBuilder, spec: WindowedFeature, index: int, batch: Batch, suffix: str, key: str, record: bool
) -> None:
    """Every window of one exact distinct set in one op: one range read, one ZADD, a PEXPIRE every 30 min."""
    member = ""
    if record and key not in builder.written:
        member = _member(builder, spec, index) or ""
        if member:
            builder.written.add(key)
    reads = builder.plan.distinct_groups[index] if builder.read_values else ()
    distinct_op(builder, batch, batch.key(key), member, builder.plan.windows[suffix], reads)


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


def _emit_buckets(
    builder: RequestBuilder, spec: WindowedFeature, index: int, batch: Batch, tag: str, key: str, record: bool
) -> None:
    """Count / sum in fixed sub-window buckets: one hash field per bucket (see the module docstring)."""
    width = bucket_width_s(spec.window_seconds or 0) * 1000
    key_index = batch.key(key)
    if record and key not in builder.written:
        amount = 1.0 if spec.aggregate is _COUNT else numeric_field(builder, spec.field)
        if amount is not None:
            builder.written.add(key)
            if builder.cluster and tag != builder.customer_tag():
                guard_slot(builder, batch, tag)
            keep = bucket_keep_ms(width // 1000, builder.plan.windows[builder.plan.suffixes[index - 1]])
            ttl = str(keep + builder.settings.ttl_slack_s * 1000)
            stale = str((builder.t - keep) // width)
            op = "HI" if spec.aggregate is _COUNT else "HF"
            batch.ops.extend((op, key_index, str(builder.t // width), "1" if op == "HI" else repr(amount), ttl, stale))
    if builder.read_values:
        low = (builder.t - (spec.window_seconds or 0) * 1000 + 1) // width
        batch.ops.extend(("HB", index, key_index, low, builder.t // width))


def trims(builder: RequestBuilder) -> bool:
    """Whether this write trims the sorted set it goes to: one in 8, at random.

    Reads bound every range by the window, so members left past it change no value; they
    only wait (~8 writes' worth per set on average, and the set's TTL) for the next trim.
    Not chosen by the event id: a caller picks its ids, and ids that never trim would keep
    a set it writes growing for as long as it writes (tests/engine/features/test_trim_choice.py).
    """
    return random.getrandbits(3) == 0


def guard_slot(builder: RequestBuilder, batch: Batch, tag: str) -> None:
    """Cluster: this slot's own copy of the event marker, so a repeated event id adds to no bucket here."""
    name = f"{tag}:ev:{builder.event_hash}"
    if not batch.has(name):
        batch.ops.extend(("EG", batch.key(name), str(builder.settings.replay_ttl_s * 1000)))


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
    indices = [batch.key(f"{prefix}:{b}") for b in range(current - HLL_BUCKETS, current + 1)]
    member = distinct_member(builder, spec)
    key = f"{prefix}:{current}"
    if record and member is not None and key not in builder.written:
        builder.written.add(key)
        ttl = str(window_ms + width + builder.settings.ttl_slack_s * 1000)
        batch.ops.extend(("PA", indices[-1], member, ttl))
    if builder.read_values:
        batch.ops.extend(("PC", index, len(indices), *indices))


def _emit_seen(
    builder: RequestBuilder, spec: WindowedFeature, index: int, batch: Batch, key: str, record: bool
) -> None:
    key_index = batch.key(key)
    if builder.read_values:
        field = "f" if spec.aggregate is _FIRST_SEEN else "l"
        batch.ops.extend(("SR", index, key_index, field, UNIT_SECONDS[spec.unit] * 1000))
    if record and key not in builder.written:
        builder.written.add(key)
        settings = builder.settings
        ttl = str((settings.history_ttl_s + settings.max_future_skew_s) * 1000 + SEEN_TTL_QUANTUM_MS)
        batch.deferred.extend(("SW", key_index, ttl, SEEN_TTL_QUANTUM_MS))
