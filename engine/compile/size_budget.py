"""The rule set's size budget: how many conditions and stored features one event can cost.

Every event runs every live condition of its type and reads and writes every feature its
plan names, in the worker (shared by every tenant it serves) and in one Redis script
(shared by every tenant on that server). The file and node limits (engine/pack) bound the
text, not this work: packs inside them compiled with 20,000 count features and rules, and
each event then cost ~8 ms of Redis and ~100 ms of worker CPU (red team, session 7), so one
tenant's admin could slow every tenant's answers. So a compiled pack (a tenant's layer
with the base it sits on) holds at most ``MAX_CONDITIONS`` live rule, tier and offer
conditions and ``MAX_FEATURES`` features read by them: ~10x the shipped pack, room for the
1,000-rule packs of ``./yt bench growth_rules``; and at most ``MAX_OFFERS`` offers (each is a
reservation in the ledger's script: a tenant pack of 300 valid offers took one event past
the Redis timeout, and the breaker it opened degraded every tenant's answers). Past any of
them, a ``LIMIT_EXCEEDED`` at the first item over it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from engine.diagnostics import Code, Diagnostic, Location
from engine.model import Predicate

MAX_CONDITIONS = 2_000
MAX_FEATURES = 1_000
#: Offers a compiled pack may hold: each one an event may get is a reservation in the ledger's script,
#: ~2 ms apiece on a loaded box; 300 took one event past the Redis timeout and opened the breaker that
#: every tenant's requests share. The shipped pack has 18.
MAX_OFFERS = 64


def check_size_budget(
    predicates: Sequence[Predicate],
    locations: Mapping[str, Location],
    used: Set[str],
    feature_locations: Mapping[str, Location],
    offers: Sequence[str] = (),
) -> list[Diagnostic]:
    """One diagnostic per budget exceeded, at the first condition, feature or offer (ids, in order) past it."""
    found: list[Diagnostic] = []
    if len(offers) > MAX_OFFERS:
        key = f"offer:{offers[MAX_OFFERS]}"
        message = (
            f"{key}: the pack has {len(offers)} offers, more than {MAX_OFFERS} (the bound on one event's"
            " reservations in the offer ledger)"
        )
        found.append(Diagnostic(locations.get(key, Location("<pack>")), Code.LIMIT_EXCEEDED, message))
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
