"""What a plan reads besides the entity hashes: referral and group sets, list features, and each value's type."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.features.spec import (
    Aggregate,
    BindingFeature,
    CodeOriginFeature,
    Entity,
    FeatureSpec,
    GroupMetric,
    LinkFeature,
    LinkMetric,
    ListFeature,
    OriginMetric,
    ReferralFeature,
    ReferralMetric,
    WindowedFeature,
)

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


@dataclass(frozen=True, slots=True)
class ListRead:
    """The list features of one entity: their value indices, and (index, kind) pairs flat."""

    entity: Entity
    indices: tuple[int, ...]
    pairs: tuple[int | str, ...]


#: Referral metrics that count a referrer-side set over (t - window, now]: the set's name.
_REFERRAL_COUNTS = {
    ReferralMetric.INVITEES: "inv",
    ReferralMetric.INVITEE_DEVICES: "dev",
    ReferralMetric.INVITEE_IPS: "ip",
    ReferralMetric.INVITEE_SUBNETS: "net",
}


def referral_reads(
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


def share_counts(specs: tuple[FeatureSpec, ...]) -> dict[int, int]:
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


def chain_paid_index(specs: Sequence[FeatureSpec]) -> int:
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
    if isinstance(spec, CodeOriginFeature):
        return bool if spec.metric in (OriginMetric.TIED, OriginMetric.ANCHORED) else int
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


def list_reads(specs: tuple[FeatureSpec, ...]) -> tuple[ListRead, ...]:
    """Group list features by entity: one HMGET reads every kind asked of one entity's list."""
    reads: dict[Entity, list[tuple[int, str]]] = {}
    for index, spec in enumerate(specs, start=1):
        if isinstance(spec, ListFeature):
            reads.setdefault(spec.entity, []).append((index, spec.kind.value))
    return tuple(
        ListRead(entity, tuple(i for i, _ in pairs), tuple(x for pair in pairs for x in pair))
        for entity, pairs in reads.items()
    )
