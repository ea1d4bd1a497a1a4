"""Sliding-window features per entity: count, sum, distinct, first_seen, last_seen.

Accuracy: **exact** sliding windows. A window of W ending at the event time t is
(t - W, t] at millisecond resolution. Each entity keeps a sorted set scored by event
time (count: one member per event id; sum: ``<event id hash>:<amount>``; distinct:
one member per distinct value, scored by the latest time it was seen), trimmed on
every write to the longest window any feature reads from it, with a TTL of that window
plus slack. Members are keyed by event id, so recording the same event twice never
counts it twice.

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

from engine.features.builder import Batch, RequestBuilder
from engine.features.plan import field_entity
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
            batch.ops.extend(("ZA", key_index, flag, member, builder.window_ttl(window), builder.trim(window)))
    if not builder.read_values:
        return
    after = builder.after(spec.window_seconds)
    if aggregate is _SUM:
        batch.ops.extend(("ZS", index, key_index, after))
    else:
        batch.ops.extend(("ZC", index, key_index, after, "+inf" if aggregate is _DISTINCT else builder.t_arg))


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
        batch.deferred.extend(("SW", key_index, builder.history_ttl))
