"""The typed condition tree: the only form of a condition the backends ever see.

Built by the checker from a parsed, validated expression; never from rule text.
Missing-value semantics (documented in docs/rule-pack.md):
- a name with no value (no such field on the event, no history) is *missing*;
- arithmetic with a missing operand, or dividing by zero, is missing;
- a comparison (``== != < <= > >=``, ``in``, ``not in``, ``matches``) with a missing
  operand is false, whatever the operator;
- ``and`` / ``or`` / ``not`` are ordinary two-valued logic over those results;
- ``exists(x)`` is true when ``x`` has a value; ``coalesce(x, d)`` is ``x`` or ``d``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

Scalar = str | int | float | bool


class Type(StrEnum):
    NUMBER = "number"
    STRING = "string"
    BOOL = "bool"
    LIST = "list"


@dataclass(frozen=True, slots=True)
class Const:
    value: Scalar
    type: Type


@dataclass(frozen=True, slots=True)
class Name:
    """A declared value: ``event.amount``, ``device.accounts_24h``, ``phone.segment``."""

    path: str
    type: Type


@dataclass(frozen=True, slots=True)
class ListValue:
    """A literal list or a named list from the pack's ``lists:`` section."""

    values: frozenset[Scalar]
    name: str | None  # the list's name, for explanations; None for a literal


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class In:
    needle: Node
    haystack: ListValue
    negated: bool


@dataclass(frozen=True, slots=True)
class Matches:
    """Whole-string regular-expression match, on RE2 (engine/expr/regex.py): linear time, never backtracks."""

    subject: Node
    pattern: str


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class Arith:
    op: str  # + - * / %
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    """A value function: exists, coalesce, abs, min, max, lower, len."""

    func: str
    args: tuple[Node, ...]
    type: Type


Node = Const | Name | ListValue | Compare | In | Matches | And | Or | Not | Arith | Call

BOOLEAN_NODES = (Compare, In, Matches, And, Or, Not)


def type_of(node: Node) -> Type:
    if isinstance(node, BOOLEAN_NODES):
        return Type.BOOL
    if isinstance(node, Const | Name | Call):
        return node.type
    if isinstance(node, ListValue):
        return Type.LIST
    return Type.NUMBER  # Arith


def names_read(node: Node) -> list[str]:
    """Every declared name the condition reads, in first-seen order."""
    seen: dict[str, None] = {}
    _collect(node, seen)
    return list(seen)


def _collect(node: Node, seen: dict[str, None]) -> None:
    if isinstance(node, Name):
        seen.setdefault(node.path)
    for child in children(node):
        _collect(child, seen)


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Compare | Arith):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.needle,)
    if isinstance(node, Matches):
        return (node.subject,)
    if isinstance(node, And | Or):
        return node.items
    if isinstance(node, Not):
        return (node.item,)
    if isinstance(node, Call):
        return node.args
    return ()


def render(node: Node) -> str:
    """Readable form of a tree, for explanations and debugging."""
    if isinstance(node, Const):
        return (
            repr(node.value)
            if isinstance(node.value, str)
            else str(node.value).lower()
            if isinstance(node.value, bool)
            else str(node.value)
        )
    if isinstance(node, Name):
        return node.path
    if isinstance(node, ListValue):
        return f"lists.{node.name}" if node.name else "[" + ", ".join(sorted(map(repr, node.values))) + "]"
    if isinstance(node, Compare | Arith):
        return f"({render(node.left)} {node.op} {render(node.right)})"
    if isinstance(node, In):
        return f"({render(node.needle)} {'not in' if node.negated else 'in'} {render(node.haystack)})"
    if isinstance(node, Matches):
        return f"matches({render(node.subject)}, {node.pattern!r})"
    if isinstance(node, And | Or):
        word = " and " if isinstance(node, And) else " or "
        return "(" + word.join(render(i) for i in node.items) + ")"
    if isinstance(node, Not):
        return f"not {render(node.item)}"
    return f"{node.func}(" + ", ".join(render(a) for a in node.args) + ")"
