"""Hypothesis strategies: random typed condition trees and random facts to match them against.

Trees use every node kind of engine.expr.tree (arithmetic with /0, functions,
negations, nested and/or, literal and named lists, regexes); facts leave any value
missing and reuse the trees' literals so that equalities and list hits happen.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from engine.compile.pack import compile_files
from engine.events import SCORED_TYPES
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
    Type,
)
from engine.model import CompiledRuleSet, Predicate

NUMBERS = ("n.a", "n.b", "n.c")
STRINGS = ("s.a", "s.b")
BOOLS = ("b.a", "b.b")
TYPES = sorted(SCORED_TYPES)

NUMBER_POOL = [0, 1, -1, 2, 5, 6.0, 0.5, 0.1 + 0.2, 1e-05, -3.25, 100, 2**53, 2**53 + 1, 1e16, 123456.789]
STRING_POOL = [
    "x'); __import__('os').system('id'); ('",
    "",
    "6",
    "6.0",
    "170",
    "a",
    "A",
    "ab",
    'q"uote',
    "back\\slash",
    "中文",
    "é",
    "a b",
    "1e2",
    "true",
]
PATTERNS = ["a.*", "[0-9]+", "1(6|7)[0-9]", "", ".*中.*", "(?i)ab", "a|b", "\\d{3}"]

numbers = st.one_of(st.sampled_from(NUMBER_POOL), st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False))
strings = st.one_of(st.sampled_from(STRING_POOL), st.text(max_size=4))


def _number_leaf() -> st.SearchStrategy[Node]:
    return st.one_of(
        st.sampled_from(NUMBERS).map(lambda n: Name(n, Type.NUMBER)), numbers.map(lambda v: Const(v, Type.NUMBER))
    )


def _string_leaf() -> st.SearchStrategy[Node]:
    return st.one_of(
        st.sampled_from(STRINGS).map(lambda n: Name(n, Type.STRING)), strings.map(lambda v: Const(v, Type.STRING))
    )


number_values = st.recursive(
    _number_leaf(),
    lambda inner: st.one_of(
        st.builds(Arith, st.sampled_from(["+", "-", "*", "/", "%"]), inner, inner),
        inner.map(lambda a: Call("abs", (a,), Type.NUMBER)),
        st.builds(lambda a, b, f: Call(f, (a, b), Type.NUMBER), inner, inner, st.sampled_from(["min", "max"])),
        st.builds(lambda a, b: Call("coalesce", (a, b), Type.NUMBER), inner, inner),
        _string_leaf().map(lambda s: Call("len", (s,), Type.NUMBER)),
    ),
    max_leaves=3,
)
string_values = st.one_of(
    _string_leaf(),
    _string_leaf().map(lambda s: Call("lower", (s,), Type.STRING)),
    st.builds(lambda a, b: Call("coalesce", (a, b), Type.STRING), _string_leaf(), _string_leaf()),
)


def _list(values: st.SearchStrategy[Any], max_size: int) -> st.SearchStrategy[ListValue]:
    return st.builds(
        lambda vs, named: ListValue(frozenset(vs), "named" if named else None),
        st.lists(values, max_size=max_size),
        st.booleans(),
    )


_ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
atoms: st.SearchStrategy[Node] = st.one_of(
    st.builds(Compare, _ops, number_values, number_values),
    st.builds(Compare, st.sampled_from(["==", "!="]), string_values, string_values),
    st.builds(In, number_values, st.one_of(_list(numbers, 6), _list(st.integers(0, 100), 40)), st.booleans()),
    st.builds(In, string_values, _list(strings, 6), st.booleans()),
    st.builds(Matches, string_values, st.sampled_from(PATTERNS)),
    st.sampled_from(BOOLS).map(lambda n: Name(n, Type.BOOL)),
    st.booleans().map(lambda v: Const(v, Type.BOOL)),
    st.one_of(number_values, string_values).map(lambda v: Call("exists", (v,), Type.BOOL)),
    st.builds(
        lambda n, d: Call("coalesce", (Name(n, Type.BOOL), Const(d, Type.BOOL)), Type.BOOL),
        st.sampled_from(BOOLS),
        st.booleans(),
    ),
    st.builds(
        Compare,
        st.sampled_from(["==", "!="]),
        st.sampled_from(BOOLS).map(lambda n: Name(n, Type.BOOL)),
        st.booleans().map(lambda v: Const(v, Type.BOOL)),
    ),
)

conditions: st.SearchStrategy[Node] = st.recursive(
    atoms,
    lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=8,
)

predicates = st.lists(
    st.tuples(conditions, st.frozensets(st.sampled_from(TYPES), max_size=2)), min_size=1, max_size=6
).map(lambda items: tuple(Predicate(f"rule:r{i}", on, c) for i, (c, on) in enumerate(items)))


@st.composite
def facts(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An event type and facts: any value may be missing."""
    event_type = draw(st.sampled_from(TYPES))
    found: dict[str, Any] = {"event.type": event_type}
    for name in NUMBERS:
        if draw(st.booleans()):
            found[name] = draw(st.one_of(numbers, st.sampled_from([2**60, -(2**60)])))
    for name in STRINGS:
        if draw(st.booleans()):
            found[name] = draw(strings)
    for name in BOOLS:
        if draw(st.booleans()):
            found[name] = draw(st.booleans())
    return event_type, found


_BASE = """
pack: {name: equivalence, timezone: Asia/Shanghai}
tiers:
  - {id: everyone, default: true}
decision: {review_at: 40, deny_at: 70}
"""
_base_ruleset: CompiledRuleSet | None = None


def ruleset_with(preds: tuple[Predicate, ...], version: str = "hypothesis") -> CompiledRuleSet:
    """A compiled rule set whose predicates are exactly ``preds``."""
    global _base_ruleset
    if _base_ruleset is None:
        _base_ruleset, diagnostics = compile_files({"pack.yaml": _BASE})
        assert _base_ruleset is not None, diagnostics
    return replace(_base_ruleset, predicates=preds, version=version)
