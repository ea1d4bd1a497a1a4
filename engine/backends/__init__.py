"""Evaluation backends: each matches a compiled rule set's predicates against facts.

Facts are a flat mapping of declared name -> value (``"device.accounts_24h": 6``);
a missing value is simply absent. ``match`` returns the keys of every predicate
that holds (``rule:<id>``, ``tier:<id>``, ``offer:<id>``), in declaration order.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol

from engine.model import CompiledRuleSet


class BackendKind(StrEnum):
    DURABLE = "durable"
    PYTHON = "python"


class Matcher(Protocol):
    kind: BackendKind

    def match(self, event_type: str, facts: Mapping[str, Any]) -> list[str]: ...

    def close(self) -> None: ...


def build_matcher(kind: BackendKind | str, ruleset: CompiledRuleSet) -> Matcher:
    if BackendKind(kind) is BackendKind.PYTHON:
        from engine.backends.python_codegen import PythonMatcher

        return PythonMatcher(ruleset)
    from engine.backends.durable import DurableMatcher

    return DurableMatcher(ruleset)
