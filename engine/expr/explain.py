"""Why a condition is false: the failing parts, rendered, with the values they read.

An interpreter of the typed tree with the documented missing-value semantics
(docs/rule-pack.md); used only to explain (``explain=true``), never to decide --
the backends decide. For ``a and b`` the false conjuncts are reported, for
``a or b`` every disjunct (all are false), anything else as a whole.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from engine.expr.regex import full_matcher
from engine.expr.tree import (
    And,
    Arith,
    Call,
    Compare,
    Const,
    In,
    ListValue,
    Matches,
    Name,
    Node,
    Not,
    Or,
    names_read,
    render,
)

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}


def value(node: Node, facts: Mapping[str, Any]) -> Any:
    """The node's value; None when missing. Boolean nodes are True or False, never missing."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Name):
        return facts.get(node.path)
    if isinstance(node, ListValue):
        return node.values
    if isinstance(node, And):
        return all(value(i, facts) is True for i in node.items)
    if isinstance(node, Or):
        return any(value(i, facts) is True for i in node.items)
    if isinstance(node, Not):
        return value(node.item, facts) is not True
    if isinstance(node, Compare):
        left, right = value(node.left, facts), value(node.right, facts)
        return left is not None and right is not None and _COMPARE[node.op](left, right)
    if isinstance(node, In):
        needle = value(node.needle, facts)
        return needle is not None and ((needle in node.haystack.values) != node.negated)
    if isinstance(node, Matches):
        subject = value(node.subject, facts)
        return subject is not None and full_matcher(node.pattern)(str(subject))
    if isinstance(node, Arith):
        left, right = value(node.left, facts), value(node.right, facts)
        if left is None or right is None or (node.op in "/%" and right == 0):
            return None
        return _ARITH[node.op](left, right)
    return _call(node, facts)


def _call(node: Call, facts: Mapping[str, Any]) -> Any:
    args = [value(a, facts) for a in node.args]
    if node.func == "exists":
        return args[0] is not None
    if node.func == "coalesce":
        return args[0] if args[0] is not None else args[1]
    if any(a is None for a in args):
        return None
    functions: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max, "lower": str.lower, "len": len}
    return functions[node.func](*args)


def failing_parts(node: Node, facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each false part of a false condition: ``{condition, values}`` (missing values as None)."""
    if value(node, facts) is True:
        return []
    if isinstance(node, And):
        return [part for item in node.items for part in failing_parts(item, facts)]
    if isinstance(node, Or):
        return [part for item in node.items for part in failing_parts(item, facts)]
    return [{"condition": render(node), "values": {name: facts.get(name) for name in names_read(node)}}]
