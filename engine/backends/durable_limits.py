"""Compile-time guards for durable_rules limits: what would crash or hang it is a diagnostic.

The checks are the matcher's own layout (``durable_plan``): a condition that
expands to too many alternatives, that could leave more tests matching at once
than durable's 64-entry stack holds (error 303), that puts too many tests side by
side (a hang at 512), or an event type whose facts would need too many fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.backends.durable_network import DurableLimits
from engine.backends.durable_plan import build_plan
from engine.diagnostics import Code, Diagnostic, Location
from engine.model import Predicate


def check_durable_limits(
    predicates: Sequence[Predicate], locations: Mapping[str, Location], limits: DurableLimits | None = None
) -> list[Diagnostic]:
    """Diagnostics for the predicates durable_rules cannot hold safely."""
    plan = build_plan(predicates, limits or DurableLimits())
    diagnostics = []
    for problem in plan.problems:
        key = predicates[problem.predicate].key
        where = locations.get(key, Location("<pack>"))
        diagnostics.append(Diagnostic(where, Code.LIMIT_EXCEEDED, f"durable_rules: {key}: {problem.message}"))
    return diagnostics
