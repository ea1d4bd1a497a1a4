"""``features:`` items -> FeatureSpec, with the checks that need meaning (windows, entities)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from engine.diagnostics import Code, Diagnostic, did_you_mean
from engine.events import EVENT_TYPES
from engine.expr.tree import Type
from engine.features.links import STRONG, WEAK
from engine.features.spec import (
    Aggregate,
    BindingFeature,
    CodeOriginFeature,
    Entity,
    FeatureSpec,
    GroupFeature,
    LinkFeature,
    LinkMetric,
    ListFeature,
    OriginMetric,
    ReferralFeature,
    ReferralMetric,
    WindowedFeature,
)
from engine.geo import PROVINCES, short_name
from engine.pack.durations import parse_duration
from engine.pack.loader import Located
from engine.pack.schema import FeatureItem, PackMeta

_ENTITIES = [e.value for e in Entity]
_WINDOWED_REFERRAL = {
    ReferralMetric.INVITEES,
    ReferralMetric.INVITEE_DEVICES,
    ReferralMetric.INVITEE_IPS,
    ReferralMetric.INVITEE_SUBNETS,
    ReferralMetric.INVITEES_ON_REFERRER_DEVICE,
    ReferralMetric.INVITEES_ON_REFERRER_IP,
    ReferralMetric.PAID_SHARE,
    ReferralMetric.SUBTREE,
    ReferralMetric.SUBTREE_PAID_SHARE,
    ReferralMetric.INVITEE_REGIONS,
    ReferralMetric.OUTSIDE_SHARE,
    ReferralMetric.REFUNDED_INVITEES,
    ReferralMetric.REFUND_SHARE,
}
#: Metrics that can also be read from the event customer's own slot (``by: customer``): its upline's depth and
#: payers, and its own net-paid mark (``days_since_paid``: missing when it never paid, or refunded it all).
_OWN_UPLINE = {ReferralMetric.DEPTH, ReferralMetric.CHAIN_PAID, ReferralMetric.DAYS_SINCE_PAID}
#: Metrics that need ``within``: paid within this long of the referral, or refunded within this long of paying.
_PAID_SHARES = {
    ReferralMetric.PAID_SHARE,
    ReferralMetric.SUBTREE_PAID_SHARE,
    ReferralMetric.REFUNDED_INVITEES,
    ReferralMetric.REFUND_SHARE,
}


class _Problems:
    def __init__(self, located: Located[FeatureItem], sink: list[Diagnostic]) -> None:
        self.located = located
        self.sink = sink
        self.name = str(located.path[-1])
        self.failed = False

    def add(self, field: str, code: Code, message: str) -> None:
        self.failed = True
        self.sink.append(Diagnostic(self.located.location(field), code, f"feature '{self.name}': {message}"))


def compile_features(
    items: Mapping[str, Located[FeatureItem]],
    attributes: Mapping[str, Type],
    diagnostics: list[Diagnostic],
    service_area: frozenset[str] = frozenset(),
) -> dict[str, FeatureSpec]:
    specs: dict[str, FeatureSpec] = {}
    for name, located in items.items():
        problems = _Problems(located, diagnostics)
        if located.item.aggregate_key == "referral":
            spec = _referral(name, located.item, service_area, problems)
        else:
            spec = _BUILDERS[located.item.aggregate_key](name, located.item, attributes, problems)
        if spec is not None and not problems.failed:
            specs[name] = spec
    _one_link_graph(items, specs, diagnostics)
    return specs


def _window(item: FeatureItem, problems: _Problems, *, required: bool, field: str = "window") -> int | None:
    text = getattr(item, field)
    if text is None:
        if required:
            problems.add(field, Code.BAD_WINDOW, f"needs a '{field}:' such as 24h or 7d")
        return None
    try:
        return parse_duration(text)
    except ValueError as err:
        problems.add(field, Code.BAD_WINDOW, str(err))
        return None


def _event_types(values: list[str] | str | None, field: str, problems: _Problems) -> frozenset[str]:
    if values is None or values == "*":
        return frozenset()
    listed = [values] if isinstance(values, str) else values
    for value in listed:
        if value not in EVENT_TYPES:
            problems.add(
                field, Code.UNKNOWN_EVENT_TYPE, f"unknown event type '{value}'{did_you_mean(value, EVENT_TYPES)}"
            )
    return frozenset(listed)


def _entity(value: str | None, field: str, problems: _Problems) -> Entity | None:
    if value is None:
        problems.add(field, Code.MISSING_FIELD, f"needs '{field}:' (one of {', '.join(_ENTITIES)})")
        return None
    if value not in _ENTITIES:
        problems.add(field, Code.UNKNOWN_ENTITY, f"unknown entity '{value}'{did_you_mean(value, _ENTITIES)}")
        return None
    return Entity(value)


def _windowed(name: str, item: FeatureItem, attributes: Mapping[str, Type], problems: _Problems) -> FeatureSpec | None:
    key = item.aggregate_key
    aggregate = Aggregate(key)
    by = _entity(item.by, "by", problems)
    seen = aggregate in (Aggregate.FIRST_SEEN, Aggregate.LAST_SEEN)
    window = _window(item, problems, required=not seen)
    on = _event_types(item.count if aggregate is Aggregate.COUNT else None, "count", problems)
    on = on | _event_types(item.on, "on", problems)
    field: str | None = None
    if aggregate is Aggregate.SUM:
        field = item.sum
        if field != "amount" and not (field and field.startswith("attr.") and attributes.get(field) is Type.NUMBER):
            problems.add(
                "sum", Code.TYPE_MISMATCH, f"can only sum 'amount' or a number attribute (attr.<name>), not '{field}'"
            )
    elif aggregate in (Aggregate.DISTINCT, Aggregate.CADENCE):
        distinct = _entity(item.distinct or item.cadence, key, problems)
        field = distinct.value if distinct else None
        if aggregate is Aggregate.CADENCE and item.approx:
            problems.add("approx", Code.INVALID_VALUE, "a cadence reads exact sightings: drop 'approx'")
    if by is None:
        return None
    return WindowedFeature(name, aggregate, by, window, on, field, item.approx, item.unit, item.exact)


def _referral(name: str, item: FeatureItem, area: frozenset[str], problems: _Problems) -> FeatureSpec | None:
    metric = item.referral
    assert metric is not None
    by = Entity.CUSTOMER if item.by == "customer" and metric in _OWN_UPLINE else Entity.REFERRER
    if item.by not in (None, "referrer") and by is not Entity.CUSTOMER:
        problems.add(
            "by",
            Code.UNKNOWN_ENTITY,
            "referral features are by the event's referrer (depth, chain_paid and days_since_paid also by: customer);"
            " drop 'by:'",
        )
    window = _window(item, problems, required=metric in _WINDOWED_REFERRAL)
    within = _window(item, problems, required=metric in _PAID_SHARES, field="within")
    older_than = _older_than(item, metric, window, problems)
    if metric is ReferralMetric.OUTSIDE_SHARE and not area:
        message = "outside_share compares invitees' regions with the merchant's: declare pack.service_area"
        problems.add("referral", Code.MISSING_FIELD, f"{message} (e.g. [上海, 江苏, 浙江])")
    if item.count_refunded and metric is not ReferralMetric.PAID_SHARE:
        problems.add("count_refunded", Code.INVALID_VALUE, f"'count_refunded' applies to paid_share, not {metric}")
    return ReferralFeature(
        name,
        metric,
        window,
        within,
        item.hops,
        older_than,
        area,
        by,
        item.count_refunded and metric is ReferralMetric.PAID_SHARE,
    )


#: Metrics over the invitee set itself, which can leave out invitees referred too recently.
_AGED_REFERRAL = {
    ReferralMetric.INVITEES, ReferralMetric.PAID_SHARE, ReferralMetric.SUBTREE, ReferralMetric.SUBTREE_PAID_SHARE,
    ReferralMetric.OUTSIDE_SHARE,
}  # fmt: skip


def _older_than(item: FeatureItem, metric: ReferralMetric, window: int | None, problems: _Problems) -> int | None:
    """``older_than``: a buy rate means something only over invitees who have had time to buy."""
    if item.older_than is None:
        return None
    if metric not in _AGED_REFERRAL:
        problems.add(
            "older_than", Code.INVALID_VALUE, f"'older_than' applies to referral invitees and paid_share, not {metric}"
        )
        return None
    age = _window(item, problems, required=True, field="older_than")
    if age is not None and window is not None and age >= window:
        problems.add(
            "older_than",
            Code.BAD_WINDOW,
            f"'older_than: {item.older_than}' leaves nothing of 'window: {item.window}'; it must be shorter",
        )
    return age


def _group(name: str, item: FeatureItem, attributes: Mapping[str, Type], problems: _Problems) -> FeatureSpec | None:
    metric = item.group
    assert metric is not None
    if item.by not in (None, "group"):
        problems.add("by", Code.UNKNOWN_ENTITY, "group features are always by the event's group; drop 'by:'")
    return GroupFeature(name, metric, _window(item, problems, required=False))


def _link(name: str, item: FeatureItem, attributes: Mapping[str, Type], problems: _Problems) -> FeatureSpec | None:
    metric = item.link
    assert metric is not None
    if item.by not in (None, "customer"):
        problems.add("by", Code.UNKNOWN_ENTITY, "link features are always by the event's customer; drop 'by:'")
    window = _window(item, problems, required=True)
    within = _link_within(item, metric, problems)
    via = _via(item, problems)
    weak = _weak(item, window, problems)
    if window is None:
        return None
    return LinkFeature(name, metric, window, via, weak, item.fanout or 8, within, item.unit)


_WITHIN_LINK = {LinkMetric.NEW_SHARE: "new", LinkMetric.RETURNING_SHARE: "seen again"}


def _link_within(item: FeatureItem, metric: LinkMetric, problems: _Problems) -> int | None:
    """``within``: how recent a first sight is new (new_share), how late a return counts (returning_share)."""
    if metric in _WITHIN_LINK:
        return _window(item, problems, required=True, field="within")
    if item.within is not None:
        message = f"'within' applies to link new_share and returning_share, not {metric}"
        problems.add("within", Code.INVALID_VALUE, message)
    return None


def _via(item: FeatureItem, problems: _Problems) -> tuple[Entity, ...]:
    if item.via is None:
        return STRONG
    strong = [e.value for e in STRONG]
    found: list[Entity] = []
    for value in item.via:
        if value in (e.value for e in WEAK):
            message = f"'{value}' is a weak identity: give it a short window under 'weak:'"
            problems.add("via", Code.INVALID_VALUE, message)
        elif value not in strong:
            problems.add(
                "via",
                Code.UNKNOWN_ENTITY,
                f"'{value}' cannot link accounts (one of {', '.join(strong)}){did_you_mean(value, strong)}",
            )
        elif Entity(value) not in found:
            found.append(Entity(value))
    if not found and item.via == []:
        problems.add("via", Code.INVALID_VALUE, "needs at least one strong identity")
    return tuple(sorted(found))


def _weak(item: FeatureItem, window: int | None, problems: _Problems) -> tuple[tuple[Entity, int], ...]:
    weak: list[tuple[Entity, int]] = []
    names = [e.value for e in WEAK]
    for value, text in (item.weak or {}).items():
        if value not in names:
            problems.add("weak", Code.INVALID_VALUE, f"'{value}' is not a weak identity (one of {', '.join(names)})")
            continue
        try:
            seconds = parse_duration(text)
        except ValueError as err:
            problems.add("weak", Code.BAD_WINDOW, f"weak '{value}': {err}")
            continue
        if window is not None and seconds >= window:
            message = f"weak '{value}: {text}' must be shorter than 'window: {item.window}'"
            problems.add("weak", Code.BAD_WINDOW, message)
            continue
        weak.append((Entity(value), seconds))
    return tuple(sorted(weak))


def _one_link_graph(
    items: Mapping[str, Located[FeatureItem]], specs: Mapping[str, FeatureSpec], sink: list[Diagnostic]
) -> None:
    """Every link feature reads the same graph: the same via, weak and fanout (one set of links is kept)."""
    first: LinkFeature | None = None
    for name, spec in specs.items():
        if not isinstance(spec, LinkFeature):
            continue
        if first is None:
            first = spec
            continue
        for field in ("via", "weak", "fanout"):
            if getattr(spec, field) != getattr(first, field):
                sink.append(Diagnostic(
                    items[name].location(field if getattr(items[name].item, field) is not None else "link"),
                    Code.INVALID_VALUE,
                    f"feature '{name}': link features share one link graph; its {field} differs from "
                    f"'{first.name}' (set the same via, weak and fanout on every link feature)",
                ))  # fmt: skip
                break


_PROVINCE_HINT = " (one of 北京, 上海, 江苏, 浙江, 广东... as in engine/geo.py)"


def service_area(meta: Located[PackMeta] | None, sink: list[Diagnostic]) -> frozenset[str]:
    """``pack.service_area``: the provinces the merchant serves, in short form; an unknown one is named."""
    if meta is None:
        return frozenset()
    area: set[str] = set()
    for position, text in enumerate(meta.item.service_area):
        name = short_name(text)
        if name not in PROVINCES:
            hint = did_you_mean(name, list(PROVINCES)) or _PROVINCE_HINT
            message = f"service_area: '{text}' is not a province-level region of China{hint}"
            sink.append(Diagnostic(meta.location("service_area", position), Code.INVALID_VALUE, message))
            continue
        area.add(name)
    return frozenset(area)


_BUILDERS: dict[str, Callable[[str, FeatureItem, Mapping[str, Type], _Problems], FeatureSpec | None]] = {
    "count": _windowed,
    "sum": _windowed,
    "distinct": _windowed,
    "cadence": _windowed,
    "first_seen": _windowed,
    "last_seen": _windowed,
    "group": _group,
    "link": _link,
}


def feature_type(spec: FeatureSpec) -> Type:
    return Type.BOOL if is_boolean_feature(spec) else Type.NUMBER


def is_boolean_feature(spec: FeatureSpec) -> bool:
    if isinstance(spec, BindingFeature):
        return True
    if isinstance(spec, CodeOriginFeature):
        return spec.metric in (OriginMetric.TIED, OriginMetric.ANCHORED)
    flags = (ReferralMetric.RING, ReferralMetric.REFERRER_PAID)  # chain_paid is a count
    return isinstance(spec, ListFeature) or (isinstance(spec, ReferralFeature) and spec.metric in flags)
