"""Event + feature values -> the flat facts both backends match against.

Values are coerced to their declared types here, once, so that a backend never
meets a string where the pack promised a number: a value of the wrong type is
treated as missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from engine.compile.features import feature_type, is_boolean_feature
from engine.events import Event, derived_fields
from engine.expr.tree import Type
from engine.features.spec import FeatureSpec

_EVENT_STRING_FIELDS = (
    "type",
    "customer",
    "device",
    "ip",
    "phone",
    "email",
    "referrer",
    "group",
    "campaign",
    "coupon",
    "address",
    "label",
)


def build_facts(
    event: Event,
    features: Mapping[str, Any],
    *,
    feature_specs: Mapping[str, FeatureSpec],
    attributes: Mapping[str, Type],
    zone: ZoneInfo,
) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for field in _EVENT_STRING_FIELDS:
        value = getattr(event, field)
        if value is not None:
            facts[f"event.{field}"] = value
    if event.amount is not None:
        facts["event.amount"] = event.amount
    local = event.timestamp.astimezone(zone)
    facts["event.hour"] = local.hour
    facts["event.weekday"] = local.isoweekday()
    for name, value in derived_fields(event).items():
        if value is not None:
            facts[name] = value
    for name, declared in attributes.items():
        value = coerce(event.attributes.get(name.removeprefix("attr.")), declared)
        if value is not None:
            facts[name] = value
    for name, value in features.items():
        if value is None or (spec := feature_specs.get(name)) is None:
            continue
        kind = type(value)
        if (kind is int or kind is float) and value == value and not is_boolean_feature(spec):
            facts[name] = value  # the common case: a number where a number is declared
        elif (coerced := coerce(value, feature_type(spec))) is not None:
            facts[name] = coerced
    return facts


def coerce(value: Any, declared: Type) -> Any:
    """``value`` as ``declared``, or None (missing) when it is not of that type."""
    if value is None:
        return None
    if declared is Type.BOOL:
        return value if isinstance(value, bool) else bool(value) if isinstance(value, int) and value in (0, 1) else None
    if declared is Type.NUMBER:
        return value if isinstance(value, int | float) and not isinstance(value, bool) and value == value else None
    if declared is Type.STRING:
        return value if isinstance(value, str) else None
    return None
