"""The reference backend: each event type's predicates generated into one Python function.

Source is emitted from the validated tree only: names become ``g(<repr of a
declared path>)`` look-ups, literals are ``repr``-ed constants or entries of a
constants table, and the few helpers are passed in explicitly. No rule text is
ever pasted into code, and ``exec`` runs with empty builtins.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.backends import BackendKind
from engine.events import SCORED_TYPES
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
)
from engine.model import CompiledRuleSet, Predicate

MatchFunction = Callable[[Mapping[str, Any]], list[str]]


class PythonMatcher:
    kind = BackendKind.PYTHON

    def __init__(self, ruleset: CompiledRuleSet) -> None:
        self.version = ruleset.version
        self._by_type: dict[str, MatchFunction] = {
            event_type: generate_matcher([p for p in ruleset.predicates if not p.on or event_type in p.on])
            for event_type in SCORED_TYPES
        }

    def match(self, event_type: str, facts: Mapping[str, Any]) -> list[str]:
        return self._by_type[event_type](facts)

    def close(self) -> None:
        self._by_type.clear()


def generate_matcher(predicates: Sequence[Predicate]) -> MatchFunction:
    source, constants = generate_source(predicates)
    namespace: dict[str, Any] = {"__builtins__": {}, **constants}
    exec(compile(source, "<yutang-rules>", "exec"), namespace)
    function: MatchFunction = namespace["match"]
    return function


def generate_source(predicates: Sequence[Predicate]) -> tuple[str, dict[str, Any]]:
    emitter = _Emitter()
    names = dict.fromkeys(n for p in predicates for n in names_read(p.condition))
    lines = ["def match(f):", "    g = f.get"]
    for name in names:
        lines.append(f"    {emitter.variable(name)} = g({name!r})")
    lines.append("    out = []")
    for predicate in predicates:
        lines.append(f"    if {emitter.boolean(predicate.condition)}:")
        lines.append(f"        out.append({predicate.key!r})")
    lines.append("    return out")
    return "\n".join(lines), emitter.constants


class _Emitter:
    def __init__(self) -> None:
        self.variables: dict[str, str] = {}
        self.constants: dict[str, Any] = {"_min": _min, "_max": _max, "_abs": _abs, "_len": _len, "_lower": _lower}
        self._temp = itertools.count()

    def variable(self, path: str) -> str:
        return self.variables.setdefault(path, f"n{len(self.variables)}")

    def constant(self, value: Any) -> str:
        key = f"K{len(self.constants)}"
        self.constants[key] = value
        return key

    def temp(self) -> str:
        return f"t{next(self._temp)}"

    # -- boolean positions: always True/False ----------------------------------------
    def boolean(self, node: Node) -> str:
        if isinstance(node, Const):
            return "True" if node.value is True else "False"
        if isinstance(node, Name | Call):
            return f"({self.value(node)} is True)"
        if isinstance(node, And | Or):
            word = " and " if isinstance(node, And) else " or "
            return "(" + word.join(self.boolean(i) for i in node.items) + ")"
        if isinstance(node, Not):
            return f"(not {self.boolean(node.item)})"
        if isinstance(node, Compare):
            left, left_guard = self.guarded(node.left)
            right, right_guard = self.guarded(node.right)
            return "(" + " and ".join([*left_guard, *right_guard, f"{left} {node.op} {right}"]) + ")"
        if isinstance(node, In):
            needle, guard = self.guarded(node.needle)
            word = "not in" if node.negated else "in"
            return "(" + " and ".join([*guard, f"{needle} {word} {self.constant(node.haystack.values)}"]) + ")"
        if isinstance(node, Matches):
            subject, guard = self.guarded(node.subject)
            matcher = self.constant(full_matcher(node.pattern))
            return "(" + " and ".join([*guard, f"{matcher}({subject})"]) + ")"
        raise TypeError(f"not a boolean node: {node!r}")

    def guarded(self, node: Node) -> tuple[str, list[str]]:
        """An expression for a value plus the checks that it is not missing."""
        if isinstance(node, Const):
            return repr(node.value), []
        if isinstance(node, Name):
            variable = self.variable(node.path)
            return variable, [f"{variable} is not None"]
        temp = self.temp()
        return temp, [f"({temp} := {self.value(node)}) is not None"]

    # -- value positions: may be None (missing) ---------------------------------------
    def value(self, node: Node) -> str:
        if isinstance(node, Const):
            return repr(node.value)
        if isinstance(node, Name):
            return self.variable(node.path)
        if isinstance(node, Arith):
            left, right = self.temp(), self.temp()
            zero = f" or {right} == 0" if node.op in ("/", "%") else ""
            return (
                f"(None if ({left} := {self.value(node.left)}) is None"
                f" or ({right} := {self.value(node.right)}) is None{zero}"
                f" else {left} {node.op} {right})"
            )
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, ListValue):
            return self.constant(node.values)
        return self.boolean(node)

    def call(self, node: Call) -> str:
        args = [self.value(a) for a in node.args]
        if node.func == "exists":
            if isinstance(node.args[0], Const):  # `'x' is not None` is a SyntaxWarning (an error under -W error)
                return "True"
            return f"({args[0]} is not None)"
        if node.func == "coalesce":
            temp = self.temp()
            return f"({temp} if ({temp} := {args[0]}) is not None else {args[1]})"
        return f"_{node.func}({', '.join(args)})"


def _min(*values: float | None) -> float | None:
    return None if any(v is None for v in values) else min(values)  # type: ignore[type-var]


def _max(*values: float | None) -> float | None:
    return None if any(v is None for v in values) else max(values)  # type: ignore[type-var]


def _abs(value: float | None) -> float | None:
    return None if value is None else abs(value)


def _len(value: str | None) -> int | None:
    return None if value is None else len(value)


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()
