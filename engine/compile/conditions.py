"""Check one condition in place: problems come back at their line and column in the YAML."""

from __future__ import annotations

from engine.diagnostics import Diagnostic, Location
from engine.expr.checker import Problem, Scope, check_condition
from engine.expr.tree import Node
from engine.pack.loader import Located


def compile_condition(
    located: Located[object], field: str, text: str, scope: Scope, diagnostics: list[Diagnostic], subject: str
) -> Node | None:
    tree, problems = check_condition(text, scope)
    for problem in problems:
        diagnostics.append(Diagnostic(_where(located, field, problem), problem.code, f"{subject}: {problem.message}"))
    return tree


def _where(located: Located[object], field: str, problem: Problem) -> Location:
    """Map a position inside the condition text onto the YAML file."""
    path = (*located.path, field)
    position = located.source.position(path)
    if position is None:
        return located.location(field)
    if position.style in ("|", ">"):
        return Location(located.source.path, position.line + problem.line, problem.col + 1)
    opening_quote = 1 if position.style in ("'", '"') else 0
    if problem.line == 1:
        return Location(located.source.path, position.line, position.col + opening_quote + problem.col)
    return Location(located.source.path, position.line + problem.line - 1, problem.col + 1)
