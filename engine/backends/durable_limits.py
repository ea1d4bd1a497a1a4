"""Compile-time guards for durable_rules limits (filled in with the durable backend)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.diagnostics import Diagnostic, Location
from engine.model import Predicate


def check_durable_limits(predicates: Sequence[Predicate], locations: Mapping[str, Location]) -> list[Diagnostic]:
    return []
