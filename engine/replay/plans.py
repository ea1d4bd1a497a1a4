"""One feature plan serving several rule sets, so one Redis pass backs a baseline diff.

For each event type the shared plan merges every rule set's ``record_plan`` (what the
type reads, then what it feeds, decided by the compiler for live traffic too).

Two rule sets may give one feature name different definitions (a marketer widened a
window): the second definition is then recorded under ``<name>#<pack index>`` and
handed back to its rule set under its own name, so each set sees its own values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine.events import EVENT_TYPES
from engine.features.spec import FeatureSpec, LinkFeature, LinkMetric
from engine.model import CompiledRuleSet


@dataclass(frozen=True, slots=True)
class SharedPlan:
    """Per event type: the specs to record and read once, and each rule set's view of them."""

    specs: Mapping[str, tuple[FeatureSpec, ...]]
    views: tuple[Mapping[str, tuple[tuple[str, str], ...]], ...]  # per set: type -> (shared name, own name)
    rulesets: tuple[CompiledRuleSet, ...] = ()

    @property
    def reads_grants(self) -> bool:
        """Whether a feature reads the offer ledger's grants (link ``rewards``): replay must write them for it."""
        return any(
            isinstance(spec, LinkFeature) and spec.metric is LinkMetric.REWARDS
            for specs in self.specs.values()
            for spec in specs
        )

    def values_for(self, index: int, event_type: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The shared snapshot's values as rule set ``index`` names them."""
        return {own: values.get(shared) for shared, own in self.views[index].get(event_type, ())}


def shared_plan(rulesets: Sequence[CompiledRuleSet]) -> SharedPlan:
    """Merge the rule sets' plans; a name defined differently gets a per-set alias."""
    specs: dict[str, tuple[FeatureSpec, ...]] = {}
    views: list[dict[str, tuple[tuple[str, str], ...]]] = [{} for _ in rulesets]
    for event_type in sorted(EVENT_TYPES):
        merged: dict[str, FeatureSpec] = {}
        for index, ruleset in enumerate(rulesets):
            pairs: list[tuple[str, str]] = []
            for spec in ruleset.record_plan[event_type]:
                own = shared = spec.name
                if shared in merged and merged[shared] != spec:
                    shared = f"{own}#{index}"
                    spec = replace(spec, name=shared)
                merged.setdefault(shared, spec)
                pairs.append((shared, own))
            views[index][event_type] = tuple(pairs)
        specs[event_type] = tuple(merged.values())
    return SharedPlan(specs=specs, views=tuple(views), rulesets=tuple(rulesets))
