"""Compile a tuple of feature specs once into what the request builders need.

A :class:`Plan` is built the first time a spec tuple is seen and cached by the store
(the API passes the same tuple, ``ruleset.feature_plan[event.type]``, every time), so
the request path never re-derives windows or key suffixes.

Features over the same events share one Redis set: ``ip.signups_1h`` and
``ip.signups_24h`` both count the ``cnt:ip:signup`` set, trimmed to the longest window
any of them needs. The set's TTL is that window plus some slack.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from engine.datastore.keys import digest
from engine.features.spec import (
    UNIT_SECONDS,
    Aggregate,
    BindingFeature,
    Entity,
    FeatureSpec,
    GroupFeature,
    GroupMetric,
    LinkFeature,
    LinkMetric,
    ListFeature,
    ReferralFeature,
    ReferralMetric,
    WindowedFeature,
)

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
        case Aggregate.DISTINCT:
            return f"dst:{spec.by.value}:{on}:{spec.field}"
        case _:
            return f"seen:{spec.by.value}:{on}"


def stream_field(spec: WindowedFeature) -> str:
    """The field of a windowed feature's stream in its entity's hash: a short digest of the stream's suffix."""
    return digest(windowed_suffix(spec), 6)


#: Referral sets and the metrics that read them.
REFERRAL_SETS: dict[str, frozenset[ReferralMetric]] = {
    "inv": frozenset(
        {
            ReferralMetric.INVITEES,
            ReferralMetric.PAID_SHARE,
            ReferralMetric.OUTSIDE_SHARE,
            ReferralMetric.REFUNDED_INVITEES,
            ReferralMetric.REFUND_SHARE,
        }
    ),
    "dev": frozenset({ReferralMetric.INVITEE_DEVICES}),
    "ip": frozenset({ReferralMetric.INVITEE_IPS}),
    "net": frozenset({ReferralMetric.INVITEE_SUBNETS}),
    "odev": frozenset({ReferralMetric.INVITEES_ON_REFERRER_DEVICE}),
    "oip": frozenset({ReferralMetric.INVITEES_ON_REFERRER_IP}),
    "sub": frozenset({ReferralMetric.SUBTREE, ReferralMetric.SUBTREE_DEPTH, ReferralMetric.SUBTREE_PAID_SHARE}),
    "reg": frozenset({ReferralMetric.INVITEE_REGIONS}),
    "out": frozenset({ReferralMetric.OUTSIDE_SHARE}),
}

GROUP_SETS: dict[GroupMetric, str] = {
    GroupMetric.MEMBERS: "mem",
    GroupMetric.SHARED_DEVICE: "d",
    GroupMetric.SHARED_IP: "i",
    GroupMetric.SHARED_ADDRESS: "a",
}


def _merge_window(windows: dict[str, int], suffix: str, seconds: int | None) -> None:
    ms = UNBOUNDED if seconds is None else seconds * 1000
    current = windows.get(suffix)
    if current == UNBOUNDED or ms == UNBOUNDED:
        windows[suffix] = UNBOUNDED
    else:
        windows[suffix] = max(current or 0, ms)


@dataclass(frozen=True, slots=True)
class ListRead:
    """The list features of one entity: their value indices, and (index, kind) pairs flat."""

    entity: Entity
    indices: tuple[int, ...]
    pairs: tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class LinkGraph:
    """What the link features of one plan need from the store (engine/features/links.py)."""

    via: tuple[Entity, ...]  # strong identities
    weak: tuple[tuple[Entity, int], ...]  # weak identity, its window (ms)
    fanout: int
    window_ms: int  # the longest link window: identity and peer sets are trimmed to it
    specs: tuple[tuple[int, LinkFeature], ...]  # (value index, spec)
    reward_windows: tuple[int, ...]  # distinct windows (ms) a `rewards` feature reads


def link_graph(specs: Sequence[FeatureSpec]) -> LinkGraph | None:
    """The link graph of the plan's link features (the compiler made them agree), or None."""
    links = tuple((i, s) for i, s in enumerate(specs, start=1) if isinstance(s, LinkFeature))
    if not links:
        return None
    first = links[0][1]
    return LinkGraph(
        via=first.via,
        weak=tuple((entity, seconds * 1000) for entity, seconds in first.weak),
        fanout=first.fanout,
        window_ms=max(s.window_seconds for _, s in links) * 1000,
        specs=links,
        reward_windows=tuple(sorted({s.window_seconds * 1000 for _, s in links if s.metric is LinkMetric.REWARDS})),
    )


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


@dataclass(frozen=True, slots=True)
class Plan:
    """The compiled form of one spec tuple."""

    specs: tuple[FeatureSpec, ...]
    names: tuple[str, ...]
    fingerprint: str
    windows: dict[str, int] = field(default_factory=dict)  # set suffix -> longest window ms
    referral: bool = False  # any referral feature: record the invitee's upline
    referrer_paid: bool = False  # a referrer_paid / chain_paid feature: a paid order marks the payer's own slot
    chain_paid: int = -1  # the chain_paid feature's index, read by the RC op (-1: the pack has none, no RC op)
    referral_sets: frozenset[str] = frozenset()  # referrer-side sets some metric reads
    suffixes: tuple[str, ...] = ()  # per spec: its windowed set's key suffix ('' otherwise)
    distinct_of: tuple[Entity | None, ...] = ()  # per spec: the entity a distinct counts
    list_reads: tuple[ListRead, ...] = ()  # list features grouped by entity, in order of first use
    value_types: tuple[type[int | float | bool], ...] = ()  # per spec: what its raw value converts to
    # paid_share value index -> the index of an `invitees` spec over the same invitees (window and
    # older_than), whose count the paid_share op returns for free: one ZCOUNT less per referral
    share_counts: dict[int, int] = field(default_factory=dict)
    links: LinkGraph | None = None  # linked-account features: one graph, read after the first round
    stream_fields: tuple[str, ...] = ()  # per spec: its stream's field in the entity hash (entity_hash.py)
    # referrer-side distinct sets (inv, dev, ip, net) -> (value index, window s) of the specs reading them up to
    # now, read by the op recording the edge (referral_graph.py) instead of one ZCOUNT each
    referral_reads: dict[str, tuple[tuple[int, int | None], ...]] = field(default_factory=dict)
    # the entity hash streams (windows.emit_streams), grouped by entity in order of first use: the other
    # windowed specs (sorted sets, HyperLogLogs) are emitted spec by spec
    entity_streams: tuple[tuple[Entity, tuple[Stream, ...]], ...] = ()
    one_by_one: tuple[int, ...] = ()  # value indices of the specs emitted one by one (referral, group, binding...)

    @property
    def size(self) -> int:
        return len(self.specs)


def compile_plan(specs: Sequence[FeatureSpec]) -> Plan:
    """Derive shared sets, their longest windows and the plan's fingerprint."""
    specs = tuple(specs)
    names = tuple(s.name for s in specs)
    fingerprint = hashlib.blake2b("\n".join(names).encode(), digest_size=6).hexdigest()
    windows: dict[str, int] = {}
    referral_sets: set[str] = set()
    has_referral = False
    for spec in specs:
        if isinstance(spec, WindowedFeature):
            _merge_window(windows, windowed_suffix(spec), spec.window_seconds)
        elif isinstance(spec, ReferralFeature):
            has_referral = True
            for name, metrics in REFERRAL_SETS.items():
                if spec.metric in metrics:
                    referral_sets.add(name)
                    if spec.metric is not ReferralMetric.SUBTREE_DEPTH:  # a level, kept apart: no set
                        _merge_window(windows, f"rg:{name}", spec.window_seconds)
        elif isinstance(spec, GroupFeature):
            _merge_window(windows, f"gb:{GROUP_SETS[spec.metric]}", spec.window_seconds)
    return Plan(
        specs=specs,
        names=names,
        fingerprint=fingerprint,
        windows=windows,
        referral=has_referral,
        referrer_paid=any(isinstance(s, ReferralFeature) and s.metric in PAID_MARKS for s in specs),
        chain_paid=_chain_paid_index(specs),
        referral_sets=frozenset(referral_sets),
        suffixes=tuple(windowed_suffix(s) if isinstance(s, WindowedFeature) else "" for s in specs),
        distinct_of=tuple(field_entity(s.field) if isinstance(s, WindowedFeature) else None for s in specs),
        list_reads=_list_reads(specs),
        value_types=tuple(value_type(s) for s in specs),
        share_counts=_share_counts(specs),
        links=link_graph(specs),
        stream_fields=tuple(stream_field(s) if isinstance(s, WindowedFeature) else "" for s in specs),
        referral_reads=_referral_reads(specs, _share_counts(specs)),
        entity_streams=_entity_streams(specs, windows),
        one_by_one=tuple(
            i for i, s in enumerate(specs, start=1) if isinstance(s, ONE_BY_ONE) and not in_entity_hash(s)
        ),
    )


#: Spec kinds whose ops are emitted spec by spec (windowed: those not in the entity hash); list features go
#: by entity (``Plan.list_reads``), link features as one graph (``Plan.links``).
ONE_BY_ONE = (WindowedFeature, ReferralFeature, GroupFeature, BindingFeature)


def in_entity_hash(spec: FeatureSpec) -> bool:
    """Whether a spec is a stream of its entity's hash: bucketed, exact distinct, first / last seen."""
    if not isinstance(spec, WindowedFeature):
        return False
    if spec.aggregate is Aggregate.DISTINCT:
        return not spec.approx
    return spec.bucketed or spec.aggregate in (Aggregate.FIRST_SEEN, Aggregate.LAST_SEEN)


def _entity_streams(
    specs: tuple[FeatureSpec, ...], windows: dict[str, int]
) -> tuple[tuple[Entity, tuple[Stream, ...]], ...]:
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
    if spec.aggregate is Aggregate.DISTINCT:
        low = UNBOUNDED if spec.window_seconds is None else spec.window_seconds * 1000
        return Stream(index, spec, spec.on, "D", name, window_ms, low_back=low, distinct_of=field_entity(spec.field))
    width_s = bucket_width_s(spec.window_seconds or 0)
    return Stream(
        index, spec, spec.on, "B", name, window_ms, width=width_s * 1000, keep=bucket_keep_ms(width_s, window_ms),
        span=(spec.window_seconds or 0) * 1000 - 1, counts=spec.aggregate is Aggregate.COUNT,
    )  # fmt: skip


#: Referral metrics that count a referrer-side set over (t - window, now]: the set's name.
_REFERRAL_COUNTS = {
    ReferralMetric.INVITEES: "inv",
    ReferralMetric.INVITEE_DEVICES: "dev",
    ReferralMetric.INVITEE_IPS: "ip",
    ReferralMetric.INVITEE_SUBNETS: "net",
}


def _referral_reads(
    specs: tuple[FeatureSpec, ...], share_counts: dict[int, int]
) -> dict[str, tuple[tuple[int, int | None], ...]]:
    """The referral counts up to now (no ``older_than``; not the count a paid_share op returns), by set."""
    paired = set(share_counts.values())
    reads: dict[str, list[tuple[int, int | None]]] = {}
    for index, spec in enumerate(specs, start=1):
        if not isinstance(spec, ReferralFeature) or spec.older_than_seconds is not None or index in paired:
            continue
        name = _REFERRAL_COUNTS.get(spec.metric)
        if name is not None:
            reads.setdefault(name, []).append((index, spec.window_seconds))
    return {name: tuple(found) for name, found in reads.items()}


def _share_counts(specs: tuple[FeatureSpec, ...]) -> dict[int, int]:
    """Pair each ``invitees`` spec with a ``paid_share`` spec over the same invitees, if any."""
    shares: dict[tuple[int | None, int | None], int] = {}
    for index, spec in enumerate(specs, start=1):
        if isinstance(spec, ReferralFeature) and spec.metric is ReferralMetric.PAID_SHARE:
            shares.setdefault((spec.window_seconds, spec.older_than_seconds), index)
    pairs: dict[int, int] = {}
    for index, spec in enumerate(specs, start=1):
        if isinstance(spec, ReferralFeature) and spec.metric is ReferralMetric.INVITEES:
            share = shares.get((spec.window_seconds, spec.older_than_seconds))
            if share is not None and share not in pairs:
                pairs[share] = index
    return pairs


def _chain_paid_index(specs: Sequence[FeatureSpec]) -> int:
    """The chain_paid feature's index (its value comes from the RC op), or -1 when the plan has none."""
    for index, spec in enumerate(specs, start=1):
        if (
            isinstance(spec, ReferralFeature)
            and spec.metric is ReferralMetric.CHAIN_PAID
            and spec.by is Entity.REFERRER
        ):
            return index
    return -1


#: Referral metrics a paid order feeds: it marks the payer in its own slot.
PAID_MARKS = frozenset({ReferralMetric.REFERRER_PAID, ReferralMetric.CHAIN_PAID})


def value_type(spec: FeatureSpec) -> type[int | float | bool]:
    """Counts are int, sums / ages / shares float, flags bool."""
    if isinstance(spec, ListFeature | BindingFeature) or (
        isinstance(spec, ReferralFeature) and spec.metric in (ReferralMetric.RING, ReferralMetric.REFERRER_PAID)
    ):
        return bool
    if isinstance(spec, WindowedFeature) and spec.aggregate in (
        Aggregate.SUM, Aggregate.FIRST_SEEN, Aggregate.LAST_SEEN,
    ):  # fmt: skip
        return float
    if isinstance(spec, ReferralFeature) and spec.metric in _REFERRAL_FLOATS:
        return float
    if isinstance(spec, LinkFeature) and spec.metric in _LINK_FLOATS:
        return float
    return int


_REFERRAL_FLOATS = frozenset(
    {
        ReferralMetric.PAID_SHARE,
        ReferralMetric.SUBTREE_PAID_SHARE,
        ReferralMetric.OUTSIDE_SHARE,
        ReferralMetric.REFUND_SHARE,
        ReferralMetric.DAYS_SINCE_PAID,
        ReferralMetric.UNPAID_REFERRAL_HOURS,
    }
)
_LINK_FLOATS = frozenset({LinkMetric.NEW_SHARE, LinkMetric.PAID_SHARE, LinkMetric.RETURNING_SHARE, LinkMetric.LINK_AGE})


def _list_reads(specs: tuple[FeatureSpec, ...]) -> tuple[ListRead, ...]:
    """Group list features by entity: one HMGET reads every kind asked of one entity's list."""
    reads: dict[Entity, list[tuple[int, str]]] = {}
    for index, spec in enumerate(specs, start=1):
        if isinstance(spec, ListFeature):
            reads.setdefault(spec.entity, []).append((index, spec.kind.value))
    return tuple(
        ListRead(entity, tuple(i for i, _ in pairs), tuple(x for pair in pairs for x in pair))
        for entity, pairs in reads.items()
    )
