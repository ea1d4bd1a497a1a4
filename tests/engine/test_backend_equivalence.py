"""Both backends return the same matches for random conditions and random facts.

The python backend is the reference: a difference is a durable translation bug
(or a predicate the durable guard refuses, which must then carry a diagnostic).
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.backends.durable import DurableMatcher
from engine.backends.durable_limits import check_durable_limits
from engine.backends.python_codegen import PythonMatcher
from engine.diagnostics import Code, Location
from engine.model import Predicate
from tests.engine.condition_trees import facts, predicates, ruleset_with

#: YUTANG_EQUIVALENCE_EXAMPLES=5000 for a deep run; the default keeps CI around 10 s.
EQUIVALENCE = settings(
    max_examples=int(os.environ.get("YUTANG_EQUIVALENCE_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _matchable(preds: tuple[Predicate, ...]) -> tuple[Predicate, ...]:
    """Drop what the durable guard refuses, checking that each refusal is a diagnostic."""
    locations = {p.key: Location("x.yaml", i + 1, 1) for i, p in enumerate(preds)}
    refused = check_durable_limits(preds, locations)
    assert all(d.code is Code.LIMIT_EXCEEDED and d.message.startswith("durable_rules:") for d in refused)
    keys_at = {location: key for key, location in locations.items()}
    refused_keys = {keys_at[d.location] for d in refused}
    return tuple(p for p in preds if p.key not in refused_keys)


@EQUIVALENCE
@given(preds=predicates, events=st.lists(facts(), min_size=1, max_size=12))
def test_durable_matches_exactly_what_the_reference_matches(
    preds: tuple[Predicate, ...], events: list[tuple[str, dict[str, Any]]]
) -> None:
    ruleset = ruleset_with(_matchable(preds))
    reference = PythonMatcher(ruleset)
    durable = DurableMatcher(ruleset)
    try:
        for event_type, found in events:
            assert durable.match(event_type, found) == reference.match(event_type, found), (event_type, found)
    finally:
        durable.close()
