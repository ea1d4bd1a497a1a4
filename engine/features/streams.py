"""Where a windowed feature is kept: its set's key suffix, its bucket width, its stream in the entity hash.

Features over the same events share one set (or one stream of their entity's hash,
engine/features/entity_hash.py): the suffix names it, so ``ip.signups_1h`` and
``ip.signups_24h`` read one. A bucketed window keeps sub-window counts of the largest
listed width at most 1/24 of the window (windows.py states the accuracy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from engine.datastore.keys import digest
from engine.features.spec import UNIT_SECONDS, Aggregate, Entity, FeatureSpec, WindowedFeature

#: Sentinel window for "all history": the set is never trimmed, its TTL is the history TTL.
UNBOUNDED = -1


def on_suffix(on: frozenset[str]) -> str:
    """Key component naming the event types that feed a set ('*' for all)."""
    return ",".join(sorted(on)) if on else "*"


def field_entity(name: str | None) -> Entity | None:
    """The entity a ``distinct`` field names (``customer`` or ``customer_id``)."""
    if name is None:
        return None
    try:
        return Entity(name.removesuffix("_id"))
    except ValueError:
        return None


#: Bucket widths (s) a bucketed window may use: the largest at most 1/24 of the window.
BUCKET_WIDTHS = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
BUCKETS_PER_WINDOW = 24


@cache  # a handful of windows per pack; called per event and window
def bucket_width_s(window_seconds: int) -> int:
    """The sub-window width of a bucketed window: the largest listed width <= window / 24."""
    return max((w for w in BUCKET_WIDTHS if w * BUCKETS_PER_WINDOW <= window_seconds), default=1)


@cache
def bucket_keep_ms(width_s: int, window_ms: int) -> int:
    """How far back a bucket key keeps buckets: any window sharing the width fits, whatever the plan."""
    wider = next((w for w in BUCKET_WIDTHS if w > width_s), None)
    reach = window_ms if wider is None else wider * BUCKETS_PER_WINDOW * 1000
    return max(reach, window_ms) + width_s * 1000


def windowed_suffix(spec: WindowedFeature) -> str:
    """Key suffix of the set a windowed feature reads (shared by identical streams)."""
    on = on_suffix(spec.on)
    if spec.bucketed:
        width = bucket_width_s(spec.window_seconds or 0)
        kind = "bc" if spec.aggregate is Aggregate.COUNT else f"bs:{spec.field}"
        return f"{kind}:{spec.by.value}:{on}:{width}"
    match spec.aggregate:
        case Aggregate.COUNT:
            return f"cnt:{spec.by.value}:{on}"
        case Aggregate.SUM:
            return f"sum:{spec.by.value}:{on}:{spec.field}"
        case Aggregate.DISTINCT if spec.approx:
            return f"hll:{spec.by.value}:{on}:{spec.field}:{spec.window_seconds}"
        case Aggregate.DISTINCT | Aggregate.CADENCE:  # a cadence reads a distinct stream's sightings
            return f"dst:{spec.by.value}:{on}:{spec.field}"
        case _:
            return f"seen:{spec.by.value}:{on}"


def stream_field(spec: WindowedFeature) -> str:
    """The field of a windowed feature's stream in its entity's hash: a short digest of the stream's suffix."""
    return digest(windowed_suffix(spec), 6)


@dataclass(frozen=True, slots=True)
class Stream:
    """A windowed spec's stream in its entity's hash, all but the event's own values derived once per plan.

    What each event adds is arithmetic on its time and its values (entity_hash.py's layout,
    filled by ``windows.emit_streams``): the key's TTL needs, the ring, the trim and the
    read bounds are offsets from here.
    """

    index: int  # the spec's value index
    spec: WindowedFeature
    on: frozenset[str]  # the event types that feed it (empty: all)
    kind: str  # 'B' bucket ring, 'D' newest distinct values, 'S' first / last seen
    name: str  # its field in the entity hash
    window_ms: int  # the plan's longest window on the stream (UNBOUNDED: all history)
    width: int = 0  # B: bucket width (ms)
    keep: int = 0  # B: how far back the ring keeps buckets (ms)
    span: int = 0  # B: the read's window minus 1 ms: its first bucket is (read_t - span) // width
    low_back: int = UNBOUNDED  # D: the read's window (ms), UNBOUNDED for all history
    which: int = 0  # S: 1 first, 2 last sight
    unit_ms: int = 0  # S: the age's unit
    counts: bool = True  # B: count (adds 1), else a sum (adds the field's number)
    distinct_of: Entity | None = None  # D: the entity whose id it counts
    cadence: bool = False  # D: read as the longest regular run of sightings (cadence.py), not a count


def in_entity_hash(spec: FeatureSpec) -> bool:
    """Whether a spec is a stream of its entity's hash: bucketed, exact distinct, first / last seen."""
    if not isinstance(spec, WindowedFeature):
        return False
    if spec.aggregate in (Aggregate.DISTINCT, Aggregate.CADENCE):
        return not spec.approx
    return spec.bucketed or spec.aggregate in (Aggregate.FIRST_SEEN, Aggregate.LAST_SEEN)


def entity_streams(
    specs: Sequence[FeatureSpec], windows: dict[str, int]
) -> tuple[tuple[Entity, tuple[Stream, ...]], ...]:
    """The specs kept in their entity's hash, as streams grouped by entity in order of first use."""
    by_entity: dict[Entity, list[Stream]] = {}
    for index, spec in enumerate(specs, start=1):
        if isinstance(spec, WindowedFeature) and in_entity_hash(spec):
            by_entity.setdefault(spec.by, []).append(_stream(index, spec, windows[windowed_suffix(spec)]))
    return tuple((entity, tuple(streams)) for entity, streams in by_entity.items())


def _stream(index: int, spec: WindowedFeature, window_ms: int) -> Stream:
    name = stream_field(spec)
    if spec.aggregate in (Aggregate.FIRST_SEEN, Aggregate.LAST_SEEN):
        which = 1 if spec.aggregate is Aggregate.FIRST_SEEN else 2
        return Stream(index, spec, spec.on, "S", name, window_ms, which=which, unit_ms=UNIT_SECONDS[spec.unit] * 1000)
    if spec.aggregate in (Aggregate.DISTINCT, Aggregate.CADENCE):
        low = UNBOUNDED if spec.window_seconds is None else spec.window_seconds * 1000
        cadence = spec.aggregate is Aggregate.CADENCE
        entity = field_entity(spec.field)
        return Stream(index, spec, spec.on, "D", name, window_ms, low_back=low, distinct_of=entity, cadence=cadence)
    width_s = bucket_width_s(spec.window_seconds or 0)
    return Stream(
        index, spec, spec.on, "B", name, window_ms, width=width_s * 1000, keep=bucket_keep_ms(width_s, window_ms),
        span=(spec.window_seconds or 0) * 1000 - 1, counts=spec.aggregate is Aggregate.COUNT,
    )  # fmt: skip
