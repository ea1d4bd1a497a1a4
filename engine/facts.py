"""Event + feature values -> the flat facts both backends match against.

Values are coerced to their declared types here, once, so that a backend never
meets a string where the pack promised a number: a value of the wrong type is
treated as missing.

``FactBuilder`` prepares, once per rule set, everything that does not depend on the
event (each declared name's type, the attribute names); ``build_facts`` is the
one-off spelling of the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from engine.area.payers import AreaPolicy
from engine.compile.features import feature_type
from engine.compile.names import IP_HOSTING, IP_OUTSIDE_AREA, PHONE_OUTSIDE_AREA
from engine.events import Event, derived_fields
from engine.expr.tree import Type
from engine.features.spec import FeatureSpec
from engine.geo import ip_hosting, ip_outside, phone_outside

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
    "payment",
    "label",
)
_EVENT_KEYS = tuple(f"event.{field}" for field in _EVENT_STRING_FIELDS)
_event_strings = attrgetter(*_EVENT_STRING_FIELDS)
_NUMBER, _BOOL = Type.NUMBER, Type.BOOL


class FactBuilder:
    """Builds the facts of one rule set: declared types and attribute names looked up once."""

    def __init__(
        self,
        *,
        feature_specs: Mapping[str, FeatureSpec],
        attributes: Mapping[str, Type],
        zone: ZoneInfo,
        service_area: frozenset[str] | None = None,
        area_policy: AreaPolicy | None = None,
        hosting: bool = False,
    ) -> None:
        self.zone = zone
        self._hosting = hosting  # a condition reads ip.hosting: look the address's network up
        self._area = service_area  # None: no condition reads phone/ip.outside_area, so neither is computed
        # the area learned from payers (engine/area): recomputed only when a new counts snapshot is handed in
        self._policy = area_policy
        self._payers: Mapping[str, int] | None = None
        self._learned: frozenset[str] | None = service_area or None
        self._features = {name: feature_type(spec) for name, spec in feature_specs.items()}
        self._attributes = tuple((name, name.removeprefix("attr."), declared) for name, declared in attributes.items())

    def area(self, payers: Mapping[str, int] | None) -> frozenset[str] | None:
        """The inside regions: the declared ones, widened by ``payers`` (a counts snapshot) when learning is on."""
        if self._policy is None:
            return self._area
        if payers is not self._payers:
            self._payers, self._learned = payers, self._policy.area(payers)
        return self._learned

    def build(
        self,
        event: Event,
        features: Mapping[str, Any],
        local: datetime | None = None,
        payers: Mapping[str, int] | None = None,
    ) -> dict[str, Any]:
        """The facts of ``event``; ``local`` is its timestamp in the pack's zone, if already known.

        ``payers``: the tenant's payers per region (engine/area), which widen the declared area.
        """
        facts: dict[str, Any] = {}
        for key, value in zip(_EVENT_KEYS, _event_strings(event), strict=True):
            if value is not None:
                facts[key] = value
        if event.amount is not None:
            facts["event.amount"] = event.amount
        if local is None:
            local = event.timestamp.astimezone(self.zone)
        facts["event.hour"] = local.hour
        facts["event.weekday"] = local.isoweekday()
        for name, value in derived_fields(event).items():
            if value is not None:
                facts[name] = value
        area = self.area(payers) if self._policy is not None else self._area
        if area is not None and event.phone and (outside := phone_outside(event.phone, area)) is not None:
            facts[PHONE_OUTSIDE_AREA] = outside
        if area is not None and event.ip and (outside := ip_outside(event.ip, area)) is not None:
            facts[IP_OUTSIDE_AREA] = outside
        if self._hosting and event.ip and (hosting := ip_hosting(event.ip)) is not None:
            facts[IP_HOSTING] = hosting
        given = event.attributes
        if given:
            for name, attribute, declared in self._attributes:
                value = given.get(attribute)
                if value is not None and (value := coerce(value, declared)) is not None:
                    facts[name] = value
        declared_types = self._features
        for name, value in features.items():
            if value is None or (expected := declared_types.get(name)) is None:
                continue
            kind = type(value)
            if expected is _NUMBER:
                if (kind is int or kind is float) and value == value:
                    facts[name] = value  # the common cases: a number or a flag where one is declared
                    continue
            elif expected is _BOOL and kind is bool:
                facts[name] = value
                continue
            if (coerced := coerce(value, expected)) is not None:
                facts[name] = coerced
        return facts


def build_facts(
    event: Event,
    features: Mapping[str, Any],
    *,
    feature_specs: Mapping[str, FeatureSpec],
    attributes: Mapping[str, Type],
    zone: ZoneInfo,
) -> dict[str, Any]:
    """The facts of ``event``, for callers without a rule set's ``FactBuilder`` (tests, benches).

    Prepares a builder per call; a loaded rule set keeps one (``LoadedRuleSet.fact_builder``).
    """
    return FactBuilder(feature_specs=feature_specs, attributes=attributes, zone=zone).build(event, features)


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
