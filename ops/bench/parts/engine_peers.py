"""The same compiled predicates evaluated by the engines a user might pick instead.

zen-engine (GoRules): one expression node, one boolean expression per predicate,
evaluated with a preloaded decision. rule-engine (zeroSteiner): one compiled Rule
per predicate. Both get our missing-value semantics spelled out as explicit null
checks (a comparison with null is false, x/0 is missing), and ``on:`` as an event
type test. Names are flattened (``device.accounts_24h`` -> ``device__accounts_24h``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.expr.tree import And, Arith, Call, Compare, Const, In, ListValue, Matches, Name, Node, Not, Or
from engine.model import Predicate

PeerMatcher = Callable[[str, Mapping[str, Any]], list[str]]


class Unsupported(Exception):
    """A node the peer's language has no faithful spelling for."""


class _Spelling:
    """Expression text for a peer; ``value`` returns (text, null checks)."""

    null = "null"

    def flat(self, path: str) -> str:
        return path.replace(".", "__")

    def literal(self, value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return json.dumps(value)

    def boolean(self, node: Node) -> str:
        if isinstance(node, Const):
            return self.literal(node.value is True)
        if isinstance(node, Name | Call) and not (isinstance(node, Call) and node.func == "exists"):
            text, checks = self.value(node)
            return self._guard([*checks, f"{text} == true"])
        if isinstance(node, Call):  # exists
            _, checks = self.value(node.args[0])
            return self._guard(checks) if checks else "true"
        if isinstance(node, And | Or):
            word = " and " if isinstance(node, And) else " or "
            return "(" + word.join(self.boolean(i) for i in node.items) + ")"
        if isinstance(node, Not):
            return f"(not {self.boolean(node.item)})"
        if isinstance(node, Compare):
            left, left_checks = self.value(node.left)
            right, right_checks = self.value(node.right)
            return self._guard([*left_checks, *right_checks, f"{left} {node.op} {right}"])
        if isinstance(node, In):
            needle, checks = self.value(node.needle)
            test = self.membership(needle, node.haystack)
            return self._guard([*checks, f"(not {test})" if node.negated else test])
        if isinstance(node, Matches):
            subject, checks = self.value(node.subject)
            return self._guard([*checks, self.regex(subject, node.pattern)])
        raise Unsupported(type(node).__name__)

    def value(self, node: Node) -> tuple[str, list[str]]:
        if isinstance(node, Const):
            return self.literal(node.value), []
        if isinstance(node, Name):
            name = self.flat(node.path)
            return name, [f"{name} != {self.null}"]
        if isinstance(node, Arith):
            left, left_checks = self.value(node.left)
            right, right_checks = self.value(node.right)
            zero = [f"{right} != 0"] if node.op in ("/", "%") else []
            return f"({left} {node.op} {right})", [*left_checks, *right_checks, *zero]
        if isinstance(node, Call) and node.func == "coalesce" and isinstance(node.args[0], Name):
            first, checks = self.value(node.args[0])
            default, default_checks = self.value(node.args[1])
            return self.choose(checks[0], first, default), default_checks
        if isinstance(node, Call) and node.func in ("lower", "len", "abs", "min", "max"):
            args = [self.value(a) for a in node.args]
            return self.function(node.func, [text for text, _ in args]), [c for _, checks in args for c in checks]
        raise Unsupported(getattr(node, "func", type(node).__name__))

    def function(self, func: str, args: list[str]) -> str:
        if func in ("min", "max"):
            return f"{func}([{', '.join(args)}])"
        return f"{func}({args[0]})"

    def _guard(self, parts: Sequence[str]) -> str:
        return "(" + " and ".join(parts) + ")"

    def membership(self, needle: str, haystack: ListValue) -> str:
        return f"({needle} in [{', '.join(self.literal(v) for v in sorted(haystack.values, key=repr))}])"

    def regex(self, subject: str, pattern: str) -> str:
        return f"matches({subject}, {self.literal('^(?:' + pattern + ')$')})"

    def choose(self, test: str, then: str, otherwise: str) -> str:
        return f"({then} ?? {otherwise})"


class _RuleEngineSpelling(_Spelling):
    def function(self, func: str, args: list[str]) -> str:
        if func == "lower":
            return f"{args[0]}.as_lower"
        if func == "len":
            return f"{args[0]}.length"
        if func == "abs":
            return f"$abs({args[0]})"
        return f"${func}([{', '.join(args)}])"

    def regex(self, subject: str, pattern: str) -> str:
        return f"({subject} =~ {self.literal('(?:' + pattern + ')$')})"  # =~ is re.match

    def choose(self, test: str, then: str, otherwise: str) -> str:
        return f"({test} ? {then} : {otherwise})"


def _type_test(spelling: _Spelling, predicate: Predicate) -> str:
    if not predicate.on:
        return ""
    return f"event__type in [{', '.join(spelling.literal(t) for t in sorted(predicate.on))}] and "


def build_zen(predicates: Sequence[Predicate]) -> PeerMatcher:
    import zen

    spelling = _Spelling()
    expressions = [
        {"id": str(i), "key": f"k{i}", "value": _type_test(spelling, p) + spelling.boolean(p.condition)}
        for i, p in enumerate(predicates)
    ]
    content = {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {
                "id": "rules",
                "type": "expressionNode",
                "name": "rules",
                "position": {"x": 1, "y": 0},
                "content": {"expressions": expressions},
            },
            {"id": "out", "type": "outputNode", "name": "Response", "position": {"x": 2, "y": 0}},
        ],
        "edges": [
            {"id": "a", "sourceId": "in", "targetId": "rules", "type": "edge"},
            {"id": "b", "sourceId": "rules", "targetId": "out", "type": "edge"},
        ],
    }
    decision = zen.ZenEngine().create_decision(json.dumps(content))
    keys = [p.key for p in predicates]

    def match(event_type: str, facts: Mapping[str, Any]) -> list[str]:
        result = decision.evaluate({spelling.flat(k): v for k, v in facts.items()})["result"]
        return [key for i, key in enumerate(keys) if result.get(f"k{i}") is True]

    return match


def build_rule_engine(predicates: Sequence[Predicate]) -> PeerMatcher:
    import rule_engine

    spelling = _RuleEngineSpelling()
    context = rule_engine.Context(default_value=None)
    rules = [
        (p.key, rule_engine.Rule(_type_test(spelling, p) + spelling.boolean(p.condition), context=context).matches)
        for p in predicates
    ]

    def match(event_type: str, facts: Mapping[str, Any]) -> list[str]:
        flat = {spelling.flat(k): v for k, v in facts.items()}
        return [key for key, matches in rules if matches(flat)]

    return match
