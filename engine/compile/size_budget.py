"""The rule set's size budget: how many conditions and stored features one event can cost.

Every event runs every live condition of its type and reads and writes every feature its
plan names, in the worker (shared by every tenant it serves) and in one Redis script
(shared by every tenant on that server). The file and node limits (engine/pack) bound the
text, not this work: packs inside them compiled with 20,000 count features and rules, and
each event then cost ~8 ms of Redis and ~100 ms of worker CPU (red team, session 7), so one
tenant's admin could slow every tenant's answers. So a compiled pack (a tenant's layer
with the base it sits on) holds at most ``MAX_CONDITIONS`` live rule, tier and offer
conditions and ``MAX_FEATURES`` features read by them: ~10x the shipped pack, room for the
1,000-rule packs of ``./yt bench growth_rules``. Past either, a ``LIMIT_EXCEEDED`` at the
first item over it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from engine.diagnostics import Code, Diagnostic, Location
from engine.model import Predicate

MAX_CONDITIONS = 2_000
MAX_FEATURES = 1_000


def check_size_budget(
    predicates: Sequence[Predicate],
    locations: Mapping[str, Location],
    used: Set[str],
    feature_locations: Mapping[str, Location],
) -> list[Diagnostic]:
    """One diagnostic per budget exceeded, at the first condition or feature past it."""
    found: list[Diagnostic] = []
    if len(predicates) > MAX_CONDITIONS:
        key = predicates[MAX_CONDITIONS].key
        message = (
            f"{key}: the pack has {len(predicates)} live rule, tier and offer conditions, more than"
            f" {MAX_CONDITIONS} (the bound on one event's evaluation)"
        )
        found.append(Diagnostic(locations.get(key, Location("<pack>")), Code.LIMIT_EXCEEDED, message))
    if len(used) > MAX_FEATURES:
        ordered = [name for name in feature_locations if name in used]
        name = ordered[MAX_FEATURES] if len(ordered) > MAX_FEATURES else sorted(used)[MAX_FEATURES]
        message = (
            f"feature '{name}': the pack's conditions read {len(used)} features, more than {MAX_FEATURES}"
            " (the bound on one event's feature-store work)"
        )
        found.append(Diagnostic(feature_locations.get(name, Location("<pack>")), Code.LIMIT_EXCEEDED, message))
    return found
