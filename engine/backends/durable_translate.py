"""Condition tree -> durable_rules alternatives: OR-ed terms of AND-ed atomic tests.

durable_rules expands every ``$or`` into separate alpha-network paths and fires a
rule once per matching path, so we expand ourselves (negations pushed down to the
atoms, De Morgan, then distribution) and register one durable rule per term: the
network shape is then known exactly, and ``durable_network`` can bound it.

Missing values follow docs/rule-pack.md. A durable comparison on an absent field is
false, like ours, so ``x > 5`` is the atom ``$gt``; its negation is
``x <= 5 OR x absent`` (``$nex``). Whatever durable cannot evaluate faithfully
(regexes: its dialect is Lua-like; arithmetic and function values; field-vs-field
comparisons; long ``in`` lists; numbers it cannot parse exactly) becomes a
*projection*: a fact field computed in Python once per event from the same typed
tree, which durable then compares like any other field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.expr.tree import (
    And,
    Call,
    Compare,
    Const,
    In,
    ListValue,
    Name,
    Node,
    Not,
    Or,
    Scalar,
    Type,
)

#: (durable field, operator, value): one alpha test. Operators: $eq $neq $lt $lte $gt $gte $ex $nex.
Atom = tuple[str, str, Any]
Term = tuple[Atom, ...]

#: Numbers durable parses and compares exactly (doubles hold every integer up to 2**53).
EXACT_LIMIT = 2**53

_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_DURABLE_OP = {"==": "$eq", "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_PYTHON_OP: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


class TooComplex(Exception):
    """The condition expands to more alternatives than durable_rules can hold."""

    def __init__(self, terms: int) -> None:
        super().__init__(terms)
        self.terms = terms


@dataclass(frozen=True, slots=True)
class Projection:
    """A fact field computed in Python: a value (may be missing) or a true/false."""

    field: str
    node: Node
    boolean: bool


@dataclass
class Fields:
    """Durable field identifiers: declared names mapped to safe ids, plus projections.

    Dotted names cannot be used as is: durable reads ``a.b`` as a nested path.
    """

    natives: dict[str, str] = field(default_factory=dict)  # declared path -> field id
    types: dict[str, Type] = field(default_factory=dict)  # declared path -> type
    projections: dict[tuple[bool, Node], Projection] = field(default_factory=dict)

    def native(self, path: str, declared: Type) -> str:
        if path not in self.natives:
            self.types[path] = declared
            self.natives[path] = f"v{len(self.natives)}_{_UNSAFE.sub('_', path)[:40]}"
        return self.natives[path]

    def project(self, node: Node, *, boolean: bool) -> str:
        key = (boolean, node)
        if key not in self.projections:
            self.projections[key] = Projection(f"p{len(self.projections)}", node, boolean)
        return self.projections[key].field


def native_constant(value: Scalar) -> bool:
    """Can durable compare against this literal exactly?"""
    if isinstance(value, bool | str):
        return True
    return math.isfinite(value) and abs(value) <= EXACT_LIMIT


class Translator:
    """Turns conditions into terms, registering the fields and projections they read."""

    def __init__(self, fields: Fields, *, max_terms: int, max_in_values: int) -> None:
        self.fields = fields
        self.max_terms = max_terms
        self.max_in_values = max_in_values

    def terms(self, node: Node, positive: bool = True) -> list[Term]:
        """Alternatives for ``node`` (or for ``not node``): [] is false, [()] is true."""
        if isinstance(node, Const):
            return [()] if (node.value is True) == positive else []
        if isinstance(node, Not):
            return self.terms(node.item, not positive)
        if isinstance(node, And | Or):
            conjunctive = isinstance(node, And) == positive
            parts = [self.terms(item, positive) for item in node.items]
            return self._product(parts) if conjunctive else self._union(parts)
        if isinstance(node, Compare):
            return self._compare(node, positive)
        if isinstance(node, In):
            return self._membership(node, positive)
        if isinstance(node, Call) and node.func == "exists":
            return self._exists(node.args[0], positive)
        if isinstance(node, Name):
            field_id = self.fields.native(node.path, node.type)
            return [((field_id, "$eq", True),)] if positive else [((field_id, "$nex", 1),), ((field_id, "$eq", False),)]
        return self._projected_boolean(node, positive)  # Matches, boolean Call (coalesce)

    # -- atoms -----------------------------------------------------------------------
    def _compare(self, node: Compare, positive: bool) -> list[Term]:
        left, right = node.left, node.right
        if isinstance(left, Const) and isinstance(right, Const):
            return [()] if _PYTHON_OP[node.op](left.value, right.value) == positive else []
        op = node.op
        if isinstance(left, Const):
            left, right, op = right, left, _FLIPPED[op]
        if not isinstance(right, Const) or not native_constant(right.value):
            return self._projected_boolean(node, positive)
        subject = self._operand(left)
        if positive:
            return [((subject, _DURABLE_OP[op], right.value),)]
        return [((subject, _DURABLE_OP[_NEGATED[op]], right.value),), ((subject, "$nex", 1),)]

    def _membership(self, node: In, positive: bool) -> list[Term]:
        values = _ordered(node.haystack)
        if isinstance(node.needle, Const):
            return [()] if ((node.needle.value in node.haystack.values) != node.negated) == positive else []
        if len(values) > self.max_in_values or not all(native_constant(v) for v in values):
            return self._projected_boolean(node, positive)
        subject = self._operand(node.needle)
        inside: list[Term] = [((subject, "$eq", v),) for v in values]
        outside: list[Term] = [tuple((subject, "$neq", v) for v in values) or ((subject, "$ex", 1),)]
        holds = outside if node.negated else inside
        if positive:
            return holds
        return [((subject, "$nex", 1),), *(inside if node.negated else outside)]

    def _exists(self, arg: Node, positive: bool) -> list[Term]:
        if isinstance(arg, Const):
            return [()] if positive else []
        subject = self._operand(arg)
        return [((subject, "$ex" if positive else "$nex", 1),)]

    def _operand(self, node: Node) -> str:
        if isinstance(node, Name):
            return self.fields.native(node.path, node.type)
        return self.fields.project(node, boolean=False)

    def _projected_boolean(self, node: Node, positive: bool) -> list[Term]:
        return [((self.fields.project(node, boolean=True), "$eq", positive),)]

    # -- and / or --------------------------------------------------------------------
    def _union(self, parts: list[list[Term]]) -> list[Term]:
        terms = _unique(term for part in parts for term in part)
        if () in terms:
            return [()]
        self._check(len(terms))
        return terms

    def _product(self, parts: list[list[Term]]) -> list[Term]:
        terms: list[Term] = [()]
        for part in parts:
            found: dict[Term, None] = {}
            for left in terms:
                for right in part:
                    term = tuple(dict.fromkeys(left + right))
                    if not _contradictory(term):
                        found[term] = None
                self._check(len(found))
            terms = list(found)
        return terms

    def _check(self, count: int) -> None:
        if count > self.max_terms:
            raise TooComplex(count)


def _contradictory(term: Term) -> bool:
    """Can no fact pass every test? (x == 1 and x == 2; x == 1 and x absent): drop the term.

    Without this, ``a in L and a in L`` would expand to len(L)**2 alternatives.
    """
    equal: dict[str, Any] = {}
    present: set[str] = set()
    absent: set[str] = set()
    for field_id, op, value in term:
        if op == "$nex":
            absent.add(field_id)
            continue
        present.add(field_id)
        if op == "$eq":
            if field_id in equal and equal[field_id] != value:
                return True
            equal[field_id] = value
    return bool(present & absent)


def _unique(terms: Any) -> list[Term]:
    return list(dict.fromkeys(terms))


def _ordered(haystack: ListValue) -> list[Scalar]:
    """List values in a stable order, so that the same pack builds the same network."""
    return sorted(haystack.values, key=lambda v: (type(v).__name__, repr(v)))
