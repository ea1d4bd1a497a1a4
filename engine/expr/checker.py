"""Turn condition text into a typed tree, or into problems a marketer can fix.

Python's own parser (``ast.parse``, never ``eval``) reads the text; only a small
whitelist of node kinds is accepted, every name must resolve in the ``Scope``, and
every operator is type-checked before a rule set is built.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from engine.diagnostics import Code, did_you_mean
from engine.expr.regex import MAX_PROGRAM, check_pattern, program_size
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
    Scalar,
    Type,
    type_of,
)

MAX_TEXT = 4000
MAX_DEPTH = 40
MAX_NUMBER = 1e15
MAX_STRING = 512
MAX_LIST = 2000
MAX_REGEX = 256

_COMPARE_OPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_ARITH_OPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Mod: "%",
}
_FUNCTIONS = ("exists", "coalesce", "abs", "min", "max", "lower", "len", "matches")
_BOOL_WORDS = {"true": True, "false": False}


@dataclass(frozen=True, slots=True)
class Problem:
    code: Code
    message: str
    line: int  # 1-based line inside the condition text
    col: int  # 0-based column inside that line


@dataclass(frozen=True)
class Scope:
    """What a condition may read: declared names with their types, and named lists."""

    names: Mapping[str, Type]
    lists: Mapping[str, frozenset[Scalar]]
    list_types: Mapping[str, Type] = field(default_factory=dict)


class _Reject(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def check_condition(text: str, scope: Scope) -> tuple[Node | None, list[Problem]]:
    """Parse and type-check ``text``; return the tree (bool-typed) or the problems."""
    if len(text) > MAX_TEXT:
        return None, [
            Problem(Code.LIMIT_EXCEEDED, f"condition is {len(text)} characters; the limit is {MAX_TEXT}", 1, 0)
        ]
    try:
        parsed = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        return None, [
            Problem(
                Code.PARSE_ERROR, f"condition does not parse: {err.msg}", err.lineno or 1, max((err.offset or 1) - 1, 0)
            )
        ]
    except (RecursionError, MemoryError, ValueError):
        return None, [Problem(Code.LIMIT_EXCEEDED, "condition is nested too deeply", 1, 0)]
    checker = _Checker(scope)
    try:
        tree = checker.convert(parsed.body, depth=0)
    except RecursionError:
        return None, [Problem(Code.LIMIT_EXCEEDED, f"condition is nested deeper than {MAX_DEPTH}", 1, 0)]
    if checker.problems:
        return None, checker.problems
    if type_of(tree) is not Type.BOOL:
        return None, [Problem(Code.TYPE_MISMATCH, f"condition must be true/false, but it is a {type_of(tree)}", 1, 0)]
    return tree, []


class _Checker:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.problems: list[Problem] = []

    def problem(self, node: ast.AST, code: Code, message: str) -> None:
        self.problems.append(Problem(code, message, getattr(node, "lineno", 1), getattr(node, "col_offset", 0)))

    def reject(self, node: ast.AST, code: Code, message: str) -> _Reject:
        return _Reject(Problem(code, message, getattr(node, "lineno", 1), getattr(node, "col_offset", 0)))

    def convert(self, node: ast.AST, depth: int) -> Node:
        try:
            return self._convert(node, depth)
        except _Reject as rejected:
            self.problems.append(rejected.problem)
            return Const(False, Type.BOOL)

    def _convert(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.reject(node, Code.LIMIT_EXCEEDED, f"condition is nested deeper than {MAX_DEPTH}")
        handler = _HANDLERS.get(type(node))
        if handler is None:
            raise self.reject(node, Code.UNSUPPORTED_SYNTAX, f"{_describe(node)} is not allowed in a condition")
        return handler(self, node, depth + 1)

    # -- leaves -----------------------------------------------------------------
    def constant(self, node: ast.Constant, depth: int) -> Node:
        value = node.value
        if isinstance(value, bool):
            return Const(value, Type.BOOL)
        if isinstance(value, int | float):
            if abs(value) > MAX_NUMBER or value != value:
                raise self.reject(node, Code.LIMIT_EXCEEDED, f"number literal is larger than {MAX_NUMBER:g}")
            return Const(value, Type.NUMBER)
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                raise self.reject(node, Code.LIMIT_EXCEEDED, f"string literal is longer than {MAX_STRING}")
            return Const(value, Type.STRING)
        raise self.reject(node, Code.UNSUPPORTED_SYNTAX, f"literal {_describe(node)} is not allowed")

    def name(self, node: ast.Name | ast.Attribute, depth: int) -> Node:
        path = _dotted(node)
        if path is None:
            raise self.reject(
                node, Code.UNSUPPORTED_SYNTAX, "only declared names like 'device.accounts_24h' can be read"
            )
        if path in _BOOL_WORDS:
            return Const(_BOOL_WORDS[path], Type.BOOL)
        if path.startswith("lists."):
            raise self.reject(node, Code.TYPE_MISMATCH, f"'{path}' is a list: use it after 'in' or 'not in'")
        if path not in self.scope.names:
            hint = did_you_mean(path, self.scope.names)
            kind = "name" if "." in path else "bare name"
            raise self.reject(node, Code.UNKNOWN_NAME, f"unknown {kind} '{path}'{hint}")
        return Name(path, self.scope.names[path])

    def list_literal(self, node: ast.List | ast.Tuple | ast.Set, depth: int) -> ListValue:
        if len(node.elts) > MAX_LIST:
            raise self.reject(node, Code.LIMIT_EXCEEDED, f"list literal has more than {MAX_LIST} values")
        values: list[Scalar] = []
        for element in node.elts:
            item = self._convert(element, depth)
            if not isinstance(item, Const):
                raise self.reject(element, Code.UNSUPPORTED_SYNTAX, "list literals may only hold literal values")
            values.append(item.value)
        return ListValue(frozenset(values), None)

    # -- operators --------------------------------------------------------------
    def bool_op(self, node: ast.BoolOp, depth: int) -> Node:
        items = tuple(self._each_boolean(v, depth) for v in node.values)
        return And(items) if isinstance(node.op, ast.And) else Or(items)

    def unary(self, node: ast.UnaryOp, depth: int) -> Node:
        if isinstance(node.op, ast.Not):
            return Not(self._boolean(node.operand, depth))
        if isinstance(node.op, ast.USub | ast.UAdd):
            operand = self._number(node.operand, depth)
            if isinstance(operand, Const):
                number = cast(float, operand.value)  # _number() guarantees a number
                value = number if isinstance(node.op, ast.UAdd) else -number
                return Const(value, Type.NUMBER)
            return operand if isinstance(node.op, ast.UAdd) else Arith("-", Const(0, Type.NUMBER), operand)
        raise self.reject(node, Code.UNSUPPORTED_SYNTAX, f"operator {_describe(node.op)} is not allowed")

    def bin_op(self, node: ast.BinOp, depth: int) -> Node:
        op = _ARITH_OPS.get(type(node.op))
        if op is None:
            raise self.reject(
                node, Code.UNSUPPORTED_SYNTAX, f"operator {_describe(node.op)} is not allowed; use + - * / %"
            )
        return Arith(op, self._number(node.left, depth), self._number(node.right, depth))

    def compare(self, node: ast.Compare, depth: int) -> Node:
        parts: list[Node] = []
        left_ast = node.left
        left = self._convert(left_ast, depth)
        for op, right_ast in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                parts.append(self._membership(node, left, right_ast, isinstance(op, ast.NotIn), depth))
                right: Node = Const(False, Type.BOOL)
            else:
                symbol = _COMPARE_OPS.get(type(op))
                if symbol is None:
                    raise self.reject(node, Code.UNSUPPORTED_SYNTAX, f"operator {_describe(op)} is not allowed")
                right = self._convert(right_ast, depth)
                parts.append(self._comparison(node, symbol, left, right))
            left = right
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _comparison(self, node: ast.AST, op: str, left: Node, right: Node) -> Node:
        lt, rt = type_of(left), type_of(right)
        if Type.LIST in (lt, rt):
            raise self.reject(node, Code.TYPE_MISMATCH, f"cannot compare a list with '{op}'; use 'in'")
        if lt is not rt:
            raise self.reject(node, Code.TYPE_MISMATCH, f"cannot compare {lt} with {rt} using '{op}'")
        if op not in ("==", "!=") and lt is not Type.NUMBER:
            raise self.reject(node, Code.TYPE_MISMATCH, f"'{op}' compares numbers, not {lt}s")
        return Compare(op, left, right)

    def _membership(self, node: ast.AST, needle: Node, haystack_ast: ast.AST, negated: bool, depth: int) -> Node:
        haystack = self._haystack(haystack_ast, depth)
        needle_type = type_of(needle)
        element_types = _element_types(haystack, self.scope)
        if needle_type in (Type.LIST, Type.BOOL) or (element_types and element_types != {needle_type}):
            listed = "/".join(sorted(element_types)) or "empty"
            raise self.reject(node, Code.TYPE_MISMATCH, f"cannot look for a {needle_type} in a list of {listed} values")
        return In(needle, haystack, negated)

    def _haystack(self, node: ast.AST, depth: int) -> ListValue:
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return self.list_literal(node, depth)
        path = _dotted(node) if isinstance(node, ast.Name | ast.Attribute) else None
        if path is None or not path.startswith("lists."):
            raise self.reject(node, Code.TYPE_MISMATCH, "'in' needs a list: [..] or lists.<name>")
        list_name = path.removeprefix("lists.")
        if list_name not in self.scope.lists:
            hint = did_you_mean(list_name, self.scope.lists)
            raise self.reject(node, Code.UNKNOWN_LIST, f"unknown list '{path}'{hint}")
        return ListValue(self.scope.lists[list_name], list_name)

    def call(self, node: ast.Call, depth: int) -> Node:
        if not isinstance(node.func, ast.Name):
            raise self.reject(node, Code.UNSUPPORTED_SYNTAX, "only the documented functions can be called")
        func = node.func.id
        if func not in _FUNCTIONS:
            raise self.reject(
                node,
                Code.UNKNOWN_FUNCTION,
                f"unknown function '{func}'{did_you_mean(func, _FUNCTIONS)}; allowed: {', '.join(_FUNCTIONS)}",
            )
        if node.keywords:
            raise self.reject(node, Code.UNSUPPORTED_SYNTAX, f"{func}() takes no keyword arguments")
        return _FUNCTION_CHECKS[func](self, node, depth)

    def _each_boolean(self, node: ast.AST, depth: int) -> Node:
        """Like _boolean, but a problem in one operand still lets the others be checked."""
        try:
            return self._boolean(node, depth)
        except _Reject as rejected:
            self.problems.append(rejected.problem)
            return Const(False, Type.BOOL)

    def _boolean(self, node: ast.AST, depth: int) -> Node:
        converted = self._convert(node, depth)
        if type_of(converted) is not Type.BOOL:
            raise self.reject(node, Code.TYPE_MISMATCH, f"expected true/false here, got a {type_of(converted)}")
        return converted

    def _number(self, node: ast.AST, depth: int) -> Node:
        converted = self._convert(node, depth)
        if type_of(converted) is not Type.NUMBER:
            raise self.reject(node, Code.TYPE_MISMATCH, f"arithmetic needs numbers, got a {type_of(converted)}")
        return converted

    def _args(self, node: ast.Call, count: int | None, minimum: int = 1) -> list[ast.expr]:
        args = list(node.args)
        func = node.func.id if isinstance(node.func, ast.Name) else "function"
        if (count is not None and len(args) != count) or len(args) < minimum:
            wanted = count if count is not None else f"at least {minimum}"
            raise self.reject(node, Code.TYPE_MISMATCH, f"{func}() takes {wanted} argument(s), got {len(args)}")
        return args

    # -- functions --------------------------------------------------------------
    def fn_exists(self, node: ast.Call, depth: int) -> Node:
        (arg,) = self._args(node, 1)
        return Call("exists", (self._convert(arg, depth),), Type.BOOL)

    def fn_coalesce(self, node: ast.Call, depth: int) -> Node:
        first, default = (self._convert(a, depth) for a in self._args(node, 2))
        if type_of(first) is not type_of(default) or type_of(first) is Type.LIST:
            raise self.reject(
                node,
                Code.TYPE_MISMATCH,
                f"coalesce() needs two values of one type, got {type_of(first)} and {type_of(default)}",
            )
        return Call("coalesce", (first, default), type_of(first))

    def fn_numeric(self, node: ast.Call, depth: int) -> Node:
        func = node.func.id  # type: ignore[attr-defined]
        args = self._args(node, 1 if func == "abs" else None, minimum=1 if func == "abs" else 2)
        return Call(func, tuple(self._number(a, depth) for a in args), Type.NUMBER)

    def fn_string(self, node: ast.Call, depth: int) -> Node:
        func = node.func.id  # type: ignore[attr-defined]
        (arg,) = self._args(node, 1)
        value = self._convert(arg, depth)
        if type_of(value) is not Type.STRING:
            raise self.reject(node, Code.TYPE_MISMATCH, f"{func}() needs a string, got a {type_of(value)}")
        return Call(func, (value,), Type.STRING if func == "lower" else Type.NUMBER)

    def fn_matches(self, node: ast.Call, depth: int) -> Node:
        subject_ast, pattern_ast = self._args(node, 2)
        subject = self._convert(subject_ast, depth)
        if type_of(subject) is not Type.STRING:
            raise self.reject(node, Code.TYPE_MISMATCH, f"matches() needs a string, got a {type_of(subject)}")
        if not (isinstance(pattern_ast, ast.Constant) and isinstance(pattern_ast.value, str)):
            raise self.reject(pattern_ast, Code.BAD_REGEX, "matches() needs a literal regular expression")
        pattern = pattern_ast.value
        if len(pattern) > MAX_REGEX:
            raise self.reject(pattern_ast, Code.LIMIT_EXCEEDED, f"regular expression is longer than {MAX_REGEX}")
        refused = check_pattern(pattern)
        if refused is not None:
            raise self.reject(pattern_ast, Code.BAD_REGEX, _regex_problem(pattern, refused))
        if (size := program_size(pattern)) > MAX_PROGRAM:
            raise self.reject(
                pattern_ast,
                Code.LIMIT_EXCEEDED,
                f"regular expression {pattern!r} compiles to {size} RE2 instructions, more than {MAX_PROGRAM}",
            )
        return Matches(subject, pattern)


def _regex_problem(pattern: str, refused: str) -> str:
    """RE2's reason, saying when the pattern is valid Python but needs backtracking (engine/expr/regex.py)."""
    try:
        re.compile(pattern)  # compiled only to tell the two cases apart, never matched
    except re.error:
        return f"bad regular expression {pattern!r}: {refused}"
    return (
        f"regular expression {pattern!r} is refused: {refused} (matches() runs on RE2, which never backtracks:"
        " no backreferences, lookahead/lookbehind or possessive repeats)"
    )


_HANDLERS: dict[type[ast.AST], Callable[[_Checker, Any, int], Node]] = {
    ast.Constant: _Checker.constant,
    ast.Name: _Checker.name,
    ast.Attribute: _Checker.name,
    ast.List: _Checker.list_literal,
    ast.Tuple: _Checker.list_literal,
    ast.BoolOp: _Checker.bool_op,
    ast.UnaryOp: _Checker.unary,
    ast.BinOp: _Checker.bin_op,
    ast.Compare: _Checker.compare,
    ast.Call: _Checker.call,
}

_FUNCTION_CHECKS: dict[str, Callable[[_Checker, ast.Call, int], Node]] = {
    "exists": _Checker.fn_exists,
    "coalesce": _Checker.fn_coalesce,
    "abs": _Checker.fn_numeric,
    "min": _Checker.fn_numeric,
    "max": _Checker.fn_numeric,
    "lower": _Checker.fn_string,
    "len": _Checker.fn_string,
    "matches": _Checker.fn_matches,
}


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    if any(p.startswith("_") for p in parts):
        return None
    return ".".join(reversed(parts))


def _element_types(haystack: ListValue, scope: Scope) -> set[Type]:
    if haystack.name is not None and haystack.name in scope.list_types:
        return {scope.list_types[haystack.name]}
    return {scalar_type(v) for v in haystack.values}


def scalar_type(value: Scalar) -> Type:
    if isinstance(value, bool):
        return Type.BOOL
    if isinstance(value, int | float):
        return Type.NUMBER
    return Type.STRING


def _describe(node: ast.AST) -> str:
    names = {
        "Subscript": "indexing (x[...])",
        "Lambda": "lambda",
        "IfExp": "'x if y else z'",
        "ListComp": "a comprehension",
        "GeneratorExp": "a generator",
        "DictComp": "a comprehension",
        "SetComp": "a comprehension",
        "Dict": "a dict literal",
        "JoinedStr": "an f-string",
        "NamedExpr": "':='",
        "Pow": "'**'",
        "Starred": "'*'",
        "Await": "await",
        "Is": "'is'",
        "IsNot": "'is not'",
        "BitAnd": "'&'",
        "BitOr": "'|'",
        "BitXor": "'^'",
        "LShift": "'<<'",
        "RShift": "'>>'",
        "FloorDiv": "'//'",
        "Invert": "'~'",
        "MatMult": "'@'",
        "Set": "a set literal",
    }
    return names.get(type(node).__name__, type(node).__name__)
