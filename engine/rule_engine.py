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
    tenant_files: Mapping[str, str] = field(default_factory=dict)  # a tenant's pack layered on ``files`` (or none)
    fact_builder: FactBuilder = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ruleset = self.ruleset
        builder = FactBuilder(
            feature_specs=ruleset.features,
            attributes=ruleset.attributes,
            zone=self.evaluator.zone,
            service_area=ruleset.service_area,
            area_policy=ruleset.area_policy,
            hosting=ruleset.reads_hosting,
        )
        object.__setattr__(self, "fact_builder", builder)  # frozen: set once, derived from the rule set

    def evaluate(
        self, event: Event, features: Mapping[str, Any], payers: Mapping[str, int] | None = None
    ) -> Evaluation:
        """Decide ``event``; ``payers`` (the tenant's payers per region, engine/area) widens the service area."""
        event_type, timestamp = event.type, event.timestamp
        local = timestamp.astimezone(self.evaluator.zone)
        facts = self.fact_builder.build(event, features, local, payers)
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
    files: Mapping[str, str],
    kind: BackendKind,
    *,
    webhook_policy: WebhookPolicy | None = None,
    tenant_files: Mapping[str, str] | None = None,
) -> LoadedRuleSet:
    """Compile and build a backend, or raise RuleLoadError with every diagnostic."""
    ruleset, diagnostics = compile_files(
        files, checks=backend_checks(kind), webhook_policy=webhook_policy, tenant_files=tenant_files
    )
    if ruleset is None:
        raise RuleLoadError(diagnostics)
    return assemble(ruleset, diagnostics, files, kind, tenant_files)


def assemble(
    ruleset: CompiledRuleSet,
    diagnostics: Sequence[Diagnostic],
    files: Mapping[str, str],
    kind: BackendKind,
    tenant_files: Mapping[str, str] | None = None,
) -> LoadedRuleSet:
    """Build the backend of a compiled set (compiled here or in a child: engine/compile/isolated.py)."""
    matcher = build_matcher(kind, ruleset)
    return LoadedRuleSet(
        ruleset, matcher, Evaluator(ruleset), tuple(diagnostics), dict(files), dict(tenant_files or {})
    )


#: The tenant id under which the platform's base pack is kept: what every tenant without its own runs.
BASE = ""


class RuleEngine:
    """Each tenant's current LoadedRuleSet and up to ``keep`` earlier ones; sets are shared by version.

    A tenant that never loaded a pack of its own runs the base's current set (and sees the
    base's versions). Two tenants whose packs compile to one version hold one object.
    """

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
        self._sets: dict[str, LoadedRuleSet] = {}  # every kept set, by version
        self._history: dict[str, OrderedDict[str, None]] = {}  # tenant -> kept versions, the current one last
        self._retired: list[tuple[float, LoadedRuleSet]] = []

    @property
    def current(self) -> LoadedRuleSet:
        """The base pack's running set."""
        return self.current_for(BASE)

    def current_for(self, tenant: str) -> LoadedRuleSet:
        """``tenant``'s running set: its own, else the base's. One dict lookup: read once per request."""
        history = self._history.get(tenant) or self._history.get(BASE)
        if not history:
            raise EngineError("no rule set is loaded")
        return self._sets[next(reversed(history))]

    @property
    def loaded(self) -> bool:
        return bool(self._history.get(BASE))

    def owns(self, tenant: str) -> bool:
        """Whether ``tenant`` runs a set of its own (not the base's)."""
        return tenant != BASE and tenant in self._history

    def tenants(self) -> list[str]:
        """Tenants running a set of their own."""
        return sorted(t for t in self._history if t != BASE)

    def find(self, version: str) -> LoadedRuleSet | None:
        """A kept set of ``version`` (any tenant's): made current elsewhere without compiling."""
        return self._sets.get(version)

    def load(self, files: Mapping[str, str] | None = None) -> LoadedRuleSet:
        """Compile ``files`` (default: the rules directory) and make it the base's current set.

        A version already kept is made current again as it is (the new build is closed):
        replacing it would leave the kept one's backend open with nobody to close it.
        """
        files = files if files is not None else read_pack_files(self.rules_path)
        return self.install(prepare(files, self.backend, webhook_policy=self.webhook_policy))

    def install(self, loaded: LoadedRuleSet, tenant: str = BASE) -> LoadedRuleSet:
        """Make a prepared set ``tenant``'s current (or the kept set of the same version, closing the new build)."""
        with self._lock:
            version = loaded.ruleset.version
            kept = self._sets.get(version)
            if kept is not None:
                if kept is not loaded:
                    loaded.matcher.close()  # never used: nothing can hold it
                loaded = kept
            else:
                self._sets[version] = loaded
            history = self._start(tenant)
            history[version] = None
            history.move_to_end(version)
            self._trim(history)
        return loaded

    def rollback(self, version: str, tenant: str = BASE) -> LoadedRuleSet:
        """Make a kept version ``tenant``'s current again (it becomes its newest kept)."""
        with self._lock:
            history = self._history.get(tenant) or self._history.get(BASE) or OrderedDict()
            if version not in history:
                raise EngineError(f"version {version} is not among the kept versions {list(history)}")
            history = self._start(tenant)
            history.move_to_end(version)
            self._reap()
            return self._sets[version]

    def versions(self, tenant: str = BASE) -> list[str]:
        """``tenant``'s kept versions (the base's if it has none), oldest first; the current one is the last."""
        return list(self._history.get(tenant) or self._history.get(BASE) or ())

    def kept(self, tenant: str = BASE) -> list[LoadedRuleSet]:
        """``tenant``'s kept sets, oldest first."""
        with self._lock:
            return [self._sets[v] for v in self.versions(tenant)]

    def evaluate(self, event: Event, features: Mapping[str, Any]) -> Evaluation:
        return self.current.evaluate(event, features)

    def close(self) -> None:
        with self._lock:
            for loaded in self._sets.values():
                loaded.matcher.close()
            for _, retired in self._retired:
                retired.matcher.close()
            self._sets.clear()
            self._history.clear()
            self._retired.clear()

    def _start(self, tenant: str) -> OrderedDict[str, None]:
        """``tenant``'s own history, begun from the base's (what it ran until now) when it has none."""
        history = self._history.get(tenant)
        if history is None:
            history = OrderedDict(self._history.get(BASE) or ())
            self._history[tenant] = history
        return history

    def _trim(self, history: OrderedDict[str, None]) -> None:
        """Drop the oldest kept versions beyond ``keep``; retire sets no tenant keeps; close old retirees."""
        while len(history) > self.keep:
            history.popitem(last=False)
        held = {v for kept in self._history.values() for v in kept}
        for version in [v for v in self._sets if v not in held]:
            self._retired.append((time.monotonic(), self._sets.pop(version)))
        self._reap()

    def _reap(self) -> None:
        horizon = time.monotonic() - self.grace_s
        while self._retired and self._retired[0][0] <= horizon:
            _, retired = self._retired.pop(0)
            retired.matcher.close()
