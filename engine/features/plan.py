"""Compile a tuple of feature specs once into what the request builders need.

A :class:`Plan` is built the first time a spec tuple is seen and cached by the store
(the API passes the same tuple, ``ruleset.feature_plan[event.type]``, every time), so
the request path never re-derives windows or key suffixes.

Features over the same events share one Redis set: ``ip.signups_1h`` and
``ip.signups_24h`` both count the ``cnt:ip:signup`` set, trimmed to the longest window
any of them needs. The set's TTL is that window plus some slack.

The parts live beside it: :mod:`engine.features.streams` names the windowed sets and
the entity hash's streams (bucket widths, key suffixes); :mod:`engine.features.plan_reads`
the referral, group and list reads and each value's type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.features.plan_reads import (
    GROUP_SETS,
    PAID_MARKS,
    REFERRAL_SETS,
    ListRead,
    chain_paid_index,
    list_reads,
    referral_reads,
    share_counts,
    value_type,
)
from engine.features.spec import (
    BindingFeature,
    CodeOriginFeature,
    Entity,
    FeatureSpec,
    GroupFeature,
    LinkFeature,
    LinkMetric,
    ReferralFeature,
    ReferralMetric,
    WindowedFeature,
)
from engine.features.streams import (
    UNBOUNDED,
    Stream,
    entity_streams,
    field_entity,
    in_entity_hash,
    stream_field,
    windowed_suffix,
)

__all__ = ["GROUP_SETS", "PAID_MARKS", "LinkGraph", "ListRead", "Plan", "Stream", "compile_plan", "in_entity_hash"]


def _merge_window(windows: dict[str, int], suffix: str, seconds: int | None) -> None:
    ms = UNBOUNDED if seconds is None else seconds * 1000
    current = windows.get(suffix)
    if current == UNBOUNDED or ms == UNBOUNDED:
        windows[suffix] = UNBOUNDED
    else:
        windows[suffix] = max(current or 0, ms)


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
        chain_paid=chain_paid_index(specs),
        referral_sets=frozenset(referral_sets),
        suffixes=tuple(windowed_suffix(s) if isinstance(s, WindowedFeature) else "" for s in specs),
        distinct_of=tuple(field_entity(s.field) if isinstance(s, WindowedFeature) else None for s in specs),
        list_reads=list_reads(specs),
        value_types=tuple(value_type(s) for s in specs),
        share_counts=share_counts(specs),
        links=link_graph(specs),
        stream_fields=tuple(stream_field(s) if isinstance(s, WindowedFeature) else "" for s in specs),
        referral_reads=referral_reads(specs, share_counts(specs)),
        entity_streams=entity_streams(specs, windows),
        one_by_one=tuple(
            i for i, s in enumerate(specs, start=1) if isinstance(s, ONE_BY_ONE) and not in_entity_hash(s)
        ),
    )


#: Spec kinds whose ops are emitted spec by spec (windowed: those not in the entity hash; a code's origin: one op
#: for both of its specs); list features go by entity (``Plan.list_reads``), link features as one graph
#: (``Plan.links``).
ONE_BY_ONE = (WindowedFeature, ReferralFeature, GroupFeature, BindingFeature, CodeOriginFeature)
