"""Exception hierarchy of the engine, mapped to HTTP answers in one place (api/errors.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.diagnostics import Diagnostic


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class RuleLoadError(EngineError):
    """A rule pack has errors; it never becomes the running rule set."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        head = "\n".join(d.render() for d in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"rule pack has {len(errors)} error(s):\n{head}{more}")


class CompileAbandoned(EngineError):
    """The client that asked for a compile went away; the compile was stopped (engine/compile/isolated.py)."""


class EvaluationError(EngineError):
    """An event could not be evaluated against the compiled rule set."""


class StoreUnavailable(EngineError):
    """Redis could not be reached or answered too late."""


class DataDirInUse(StoreUnavailable):
    """Another process's embedded Redis owns this data directory (its lock is held)."""
