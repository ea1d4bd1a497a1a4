"""The running rule set: one reference, swapped whole on reload, never half-loaded.

A reload compiles and builds the new backend off to the side; only when both
succeed does one assignment make it current. Earlier versions are kept (with the
files they were compiled from) for rollback.

A request takes the current reference once and may still evaluate with it after a
reload made another set current. So a set that drops out of the kept versions is not
closed at once (closing a durable matcher makes its ``match`` raise): it is retired,
and closed only ``grace_s`` later, by a later load, rollback or ``close``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.backends import BackendKind, Matcher, build_matcher
from engine.compile.pack import BackendCheck, compile_files
from engine.diagnostics import Diagnostic
from engine.egress.policy import WebhookPolicy
from engine.errors import EngineError, RuleLoadError
from engine.evaluation import Evaluation, Evaluator
from engine.events import Event
from engine.facts import FactBuilder
from engine.model import CompiledRuleSet
from engine.pack.loader import read_pack_files


@dataclass(frozen=True, slots=True)
class LoadedRuleSet:
    """A compiled set with its backend, ready to evaluate: swapped as one object."""

    ruleset: CompiledRuleSet
    matcher: Matcher
    evaluator: Evaluator
    diagnostics: tuple[Diagnostic, ...]
    files: Mapping[str, str] = field(default_factory=dict)  # the pack's text: rollbacks, other workers, console
    fact_builder: FactBuilder = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ruleset = self.ruleset
        builder = FactBuilder(feature_specs=ruleset.features, attributes=ruleset.attributes, zone=self.evaluator.zone)
        object.__setattr__(self, "fact_builder", builder)  # frozen: set once, derived from the rule set

    def evaluate(self, event: Event, features: Mapping[str, Any]) -> Evaluation:
        event_type, timestamp = event.type, event.timestamp
        local = timestamp.astimezone(self.evaluator.zone)
        facts = self.fact_builder.build(event, features, local)
        matched = self.matcher.match(event_type, facts)
        return self.evaluator.decide(
            event_type=event_type, timestamp=timestamp, matched=matched, facts=facts, local=local
        )


def backend_checks(kind: BackendKind) -> tuple[BackendCheck, ...]:
    """Compile-time guards of the chosen backend (durable_rules limits)."""
    if kind is BackendKind.DURABLE:
        from engine.backends.durable_limits import check_durable_limits

        return (check_durable_limits,)
    return ()


def prepare(
    files: Mapping[str, str], kind: BackendKind, *, webhook_policy: WebhookPolicy | None = None
) -> LoadedRuleSet:
    """Compile and build a backend, or raise RuleLoadError with every diagnostic."""
    ruleset, diagnostics = compile_files(files, checks=backend_checks(kind), webhook_policy=webhook_policy)
    if ruleset is None:
        raise RuleLoadError(diagnostics)
    return assemble(ruleset, diagnostics, files, kind)


def assemble(
    ruleset: CompiledRuleSet, diagnostics: Sequence[Diagnostic], files: Mapping[str, str], kind: BackendKind
) -> LoadedRuleSet:
    """Build the backend of a compiled set (compiled here or in a child: engine/compile/isolated.py)."""
    return LoadedRuleSet(ruleset, build_matcher(kind, ruleset), Evaluator(ruleset), tuple(diagnostics), dict(files))


class RuleEngine:
    """Holds the current LoadedRuleSet and up to ``keep`` earlier ones."""

    def __init__(
        self,
        rules_path: str | Path,
        *,
        backend: BackendKind | str = BackendKind.DURABLE,
        keep: int = 5,
        grace_s: float = 30.0,
        webhook_policy: WebhookPolicy | None = None,
    ) -> None:
        self.rules_path = Path(rules_path)
        self.backend = BackendKind(backend)
        self.webhook_policy = webhook_policy  # a set whose webhooks it refuses (by every tenant) does not load
        self.keep = keep
        self.grace_s = grace_s
        self._lock = threading.Lock()
        self._history: OrderedDict[str, LoadedRuleSet] = OrderedDict()
        self._current: LoadedRuleSet | None = None
        self._retired: list[tuple[float, LoadedRuleSet]] = []

    @property
    def current(self) -> LoadedRuleSet:
        if self._current is None:
            raise EngineError("no rule set is loaded")
        return self._current

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def load(self, files: Mapping[str, str] | None = None) -> LoadedRuleSet:
        """Compile ``files`` (default: the rules directory) and make it current.

        A version already kept is made current again as it is (the new build is closed):
        replacing it would leave the kept one's backend open with nobody to close it.
        """
        files = files if files is not None else read_pack_files(self.rules_path)
        return self.install(prepare(files, self.backend, webhook_policy=self.webhook_policy))

    def install(self, loaded: LoadedRuleSet) -> LoadedRuleSet:
        """Make a prepared set current (or the kept set of the same version, closing the new build)."""
        with self._lock:
            kept = self._history.get(loaded.ruleset.version)
            if kept is not None:
                loaded.matcher.close()  # never used: nothing can hold it
                self._history.move_to_end(kept.ruleset.version)
                self._current = kept
                return kept
            self._history[loaded.ruleset.version] = loaded
            self._current = loaded
            self._trim()
        return loaded

    def rollback(self, version: str) -> LoadedRuleSet:
        """Make a kept version current again (it becomes the newest kept)."""
        with self._lock:
            if version not in self._history:
                raise EngineError(f"version {version} is not among the kept versions {list(self._history)}")
            self._history.move_to_end(version)
            self._current = self._history[version]
            self._reap()
            return self._current

    def versions(self) -> list[str]:
        """Kept versions, oldest first; the current one is the last."""
        return list(self._history)

    def kept(self) -> list[LoadedRuleSet]:
        """Kept sets, oldest first."""
        with self._lock:
            return list(self._history.values())

    def evaluate(self, event: Event, features: Mapping[str, Any]) -> Evaluation:
        return self.current.evaluate(event, features)

    def close(self) -> None:
        with self._lock:
            for loaded in self._history.values():
                loaded.matcher.close()
            for _, retired in self._retired:
                retired.matcher.close()
            self._history.clear()
            self._retired.clear()
            self._current = None

    def _trim(self) -> None:
        """Retire the oldest kept sets beyond ``keep``; close those retired long enough ago."""
        while len(self._history) > self.keep:
            _, oldest = self._history.popitem(last=False)
            self._retired.append((time.monotonic(), oldest))
        self._reap()

    def _reap(self) -> None:
        horizon = time.monotonic() - self.grace_s
        while self._retired and self._retired[0][0] <= horizon:
            _, retired = self._retired.pop(0)
            retired.matcher.close()
