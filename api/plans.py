"""Which features an event records and reads: the rule set's reads, plus what it feeds.

``CompiledRuleSet.feature_plan`` lists what the conditions of an event type read.
An event must also be counted in every used windowed feature it feeds (a referral
counts towards ``ip.signups_1h`` even when only signup rules read it; an
``order_paid`` feeds ``customer.orders_365d``), the same rule as
``engine.replay.plans.wanted``. Tuples are cached per rule set version so that the
feature store's plan cache (keyed by the tuple) keeps hitting.
"""

from __future__ import annotations

from engine.features.spec import FeatureSpec, WindowedFeature
from engine.model import CompiledRuleSet

_cache: dict[tuple[str, str], tuple[FeatureSpec, ...]] = {}
_MAX = 512


def record_plan(ruleset: CompiledRuleSet, event_type: str) -> tuple[FeatureSpec, ...]:
    """Reads first (in the plan's order), then the windowed features the type feeds."""
    key = (ruleset.version, event_type)
    found = _cache.get(key)
    if found is None:
        if len(_cache) >= _MAX:
            _cache.clear()
        reads = ruleset.feature_plan.get(event_type, ())
        names = {spec.name for spec in reads}
        fed = tuple(s for s in ruleset.features.values() if s.name not in names and _fed_by(s, event_type))
        found = _cache[key] = (*reads, *fed)
    return found


def _fed_by(spec: FeatureSpec, event_type: str) -> bool:
    return isinstance(spec, WindowedFeature) and (not spec.on or event_type in spec.on)
