"""A rule file can never run code: hostile conditions become diagnostics, generated code stays inert."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.backends.durable_facts import generate_encoder
from engine.backends.durable_network import DurableLimits
from engine.backends.durable_plan import build_plan
from engine.backends.python_codegen import generate_source
from engine.compile.pack import compile_files
from engine.model import Predicate
from tests.engine.condition_trees import conditions

CANARY = Path("/tmp/yutang-hostile-canary")

HOSTILE = [
    "event.type.__class__.__mro__",
    "event.type.__class__.__mro__[1].__subclasses__()",
    "__import__('os').system('touch /tmp/yutang-hostile-canary')",
    "__builtins__",
    "event.__dict__",
    "event._private == 1",
    "(lambda: open('/tmp/yutang-hostile-canary', 'w'))()",
    "[x for x in ().__class__.__base__.__subclasses__()]",
    "{x: 1 for x in 'ab'}",
    "(x := 5) > 1",
    "f'{event.type}' == 'x'",
    'f\'{__import__("os").system("touch /tmp/yutang-hostile-canary")}\'',
    "eval('1') == 1",
    "exec('import os')",
    "getattr(event, 'type') == 'x'",
    "event.amount ** 99999999 > 1",
    "event.type[0] == 'x'",
    "event.amount if true else 0",
    "not " * 3000 + "true",
    "(" * 5000 + "true" + ")" * 5000,
    " and ".join(["event.amount > 1"] * 600),
    "1" + "0" * 3000 + " > event.amount",
    "event.type == '" + "a" * 100_000 + "'",
    "event.amount in [" + ",".join(str(i) for i in range(3000)) + "]",
    "matches(event.phone, '(a+)+$' * 40)",
    "matches(event.phone, '[')",
    "yield 1",
    "await event",
    "import os",
    "event.type == 'x'; import os",
    "\x00",
    "",
]

_PACK = """
pack: {{name: hostile, timezone: Asia/Shanghai}}
tiers: [{{id: everyone, default: true}}]
decision: {{review_at: 40, deny_at: 70}}
rules:
  - id: hostile
    code: 1
    on: [order]
    when: {when}
    score: 10
    reason: {{zh: 恶意, en: hostile}}
"""


@pytest.mark.parametrize("condition", HOSTILE, ids=lambda c: c[:40])
def test_a_hostile_condition_is_rejected_with_a_diagnostic(condition: str) -> None:
    CANARY.unlink(missing_ok=True)
    ruleset, diagnostics = compile_files({"x.yaml": _PACK.format(when=json.dumps(condition))})
    assert ruleset is None
    errors = [d for d in diagnostics if d.is_error]
    assert errors and all(d.location.file == "x.yaml" and d.location.line >= 1 for d in errors)
    assert not CANARY.exists()


_SAFE_NAME = re.compile(
    r"^(f|g|o|a|v|out|encode|match|n\d+|t\d+|K\d+|_min|_max|_abs|_len|_lower|_str|_num|_bool|_val|_repr)$"
)
_SAFE_NODES = (
    ast.Module,
    ast.FunctionDef,
    ast.arguments,
    ast.arg,
    ast.Assign,
    ast.Expr,
    ast.If,
    ast.Return,
    ast.Name,
    ast.Load,
    ast.Store,
    ast.Constant,
    ast.Call,
    ast.Attribute,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.Compare,
    ast.BinOp,
    ast.IfExp,
    ast.NamedExpr,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Is,
    ast.IsNot,
    ast.In,
    ast.NotIn,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
    ast.List,
)


def _assert_inert(source: str) -> None:
    """Only our own variables, calls of our helpers, and literals: rule text is never code."""
    for node in ast.walk(ast.parse(source)):
        assert isinstance(node, _SAFE_NODES), ast.dump(node)
        if isinstance(node, ast.Name):
            assert _SAFE_NAME.match(node.id), node.id
        if isinstance(node, ast.Attribute):
            assert node.attr in ("get", "append", "join"), node.attr
        if isinstance(node, ast.FunctionDef):
            assert node.name in ("match", "encode")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(conditions, min_size=1, max_size=4))
def test_generated_code_holds_rule_values_only_as_constants(trees: list) -> None:  # type: ignore[type-arg]
    predicates = [Predicate(f"rule:r{i}", frozenset(), tree) for i, tree in enumerate(trees)]
    source, _ = generate_source(predicates)
    _assert_inert(source)
    plan = build_plan(predicates, DurableLimits())
    for group in plan.groups.values():
        _, encoder_source = generate_encoder(group.guard, group.natives, group.projections)
        _assert_inert(encoder_source)
