"""The shape of a durable_rules alpha network, and how many rules one ruleset may hold.

Measured on durable-rules 2.0.28 (see the research notes): each term of a rule is
a chain of alpha nodes (shared with other rules while the prefix is identical);
asserting a fact walks the matching nodes depth first with a fixed stack of 64
entries, so a fact that leaves more than 64 matching nodes pending fails with
error 303; a node with 512 distinct children hangs the process; one node may end
at most ~256 rules (error 108); a fact may carry at most 254 properties.

``stack_need`` bounds the stack for the worst fact (every test true, except that
equality tests on one field exclude each other), and ``pack`` fills rulesets up to
the limits, so that no event can ever reach them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from engine.backends.durable_translate import Atom, Term


@dataclass(frozen=True, slots=True)
class DurableLimits:
    """Where we stop, with a margin below where durable_rules 2.0.28 breaks."""

    max_rules: int = 50  # predicates per ruleset
    max_stack: int = 56  # pending matching nodes (error 303 above 64)
    max_children: int = 400  # distinct children of one node (hangs at 512)
    max_terms: int = 64  # alternatives of one condition
    max_shard_terms: int = 200  # durable rules per ruleset (error 108 above 256 on one node)
    max_in_values: int = 32  # longer `in` lists are evaluated in Python
    max_fields: int = 240  # fact properties (error above 254, sid and id included)


@dataclass
class _Node:
    children: dict[Atom, _Node] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Shape:
    stack: int  # worst-case pending matching nodes
    children: int  # most distinct children of one node


class Network:
    """The alpha network of one ruleset, built the way durable builds it."""

    def __init__(self) -> None:
        self.root = _Node()
        self.terms = 0

    def add(self, terms: Iterable[Term]) -> None:
        for term in terms:
            node = self.root
            for atom in term:
                node = node.children.setdefault(_key(atom), _Node())
            self.terms += 1

    def shape(self) -> Shape:
        return Shape(_stack(self.root), _widest(self.root))


def shape_of(term_groups: Iterable[Sequence[Term]]) -> Shape:
    network = Network()
    for terms in term_groups:
        network.add(terms)
    return network.shape()


def fits(shape: Shape, terms: int, limits: DurableLimits) -> bool:
    return shape.stack <= limits.max_stack and shape.children <= limits.max_children and terms <= limits.max_shard_terms


def pack(
    items: Sequence[tuple[int, Sequence[Term]]], limits: DurableLimits, base: Sequence[Term] = ()
) -> list[list[int]]:
    """Group predicate indices into rulesets that stay within ``limits`` for any fact.

    ``base`` terms are in every ruleset. Every item must fit alone with them (the
    plan reports those that do not).
    """
    shards: list[list[int]] = []
    current: list[int] = []
    groups: list[Sequence[Term]] = [base]
    for index, terms in items:
        candidate = [*groups, terms]
        total = sum(len(t) for t in candidate)
        if current and (len(current) >= limits.max_rules or not fits(shape_of(candidate), total, limits)):
            shards.append(current)
            current, candidate = [], [base, terms]
        current.append(index)
        groups = candidate
    if current:
        shards.append(current)
    return shards


def _key(atom: Atom) -> Atom:
    field_id, op, value = atom
    return (field_id, op, (type(value).__name__, value))  # one node per literal as written


def _stack(node: _Node) -> int:
    """Worst-case stack: all matching children are pushed, then visited one by one.

    Equality tests on one field exclude each other, except for values durable
    finds equal (1 and 1.0; true and 1), which are counted together.
    """
    if not node.children:
        return 0
    equal: Counter[tuple[str, object]] = Counter()
    pushed = 0
    for field_id, op, (_, value) in node.children:
        if op == "$eq":
            equal[(field_id, value if isinstance(value, str) else float(value))] += 1
        else:
            pushed += 1
    by_field: dict[str, int] = {}
    for (field_id, _), count in equal.items():
        by_field[field_id] = max(by_field.get(field_id, 0), count)
    pushed += sum(by_field.values())
    deepest = max(_stack(child) for child in node.children.values())
    return max(pushed, pushed - 1 + deepest)


def _widest(node: _Node) -> int:
    below = [_widest(child) for child in node.children.values()]
    return max([len(node.children), *below])


def describe(atom: Atom) -> str:
    field_id, op, value = atom
    return f"{field_id} {op} {value!r}"
