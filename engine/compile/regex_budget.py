"""The rule set's regex budget: how much RE2 work one event can cost, summed over the pack.

Each ``matches()`` pattern is already capped on its own (engine/expr/checker.py); a
pack of a thousand capped patterns would still cost a second per event. So the RE2
programs of every live rule, tier and offer condition together are capped at
``MAX_PROGRAM_TOTAL`` instructions (engine/expr/regex.py says what that bounds), and
the first condition past the budget is a ``LIMIT_EXCEEDED`` at its rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from engine.diagnostics import Code, Diagnostic, Location
from engine.expr.regex import MAX_PROGRAM_TOTAL, program_size
from engine.expr.tree import Matches, Node, children
from engine.model import Predicate


def check_regex_budget(predicates: Sequence[Predicate], locations: Mapping[str, Location]) -> list[Diagnostic]:
    """One diagnostic at the first predicate whose patterns take the total past the budget."""
    total = 0
    for predicate in predicates:
        for node in _matches(predicate.condition):
            total += program_size(node.pattern)
            if total > MAX_PROGRAM_TOTAL:
                where = locations.get(predicate.key, Location("<pack>"))
                message = (
                    f"{predicate.key}: regular expression {node.pattern!r} takes the pack's regular expressions to"
                    f" {total} RE2 instructions, more than {MAX_PROGRAM_TOTAL} (the bound on one event's regex work)"
                )
                return [Diagnostic(where, Code.LIMIT_EXCEEDED, message)]
    return []


def _matches(node: Node) -> Iterator[Matches]:
    if isinstance(node, Matches):
        yield node
    for child in children(node):
        yield from _matches(child)
