"""The durable_rules backend: every matching predicate, through the low-level engine API.

Why the low-level ``durable_rules_engine`` calls and not ``durable.lang``/Host: the
Host costs ~10x more per event and runs actions on its own threads. The pattern
(measured on durable-rules 2.0.28):

- an *event* is consumed by its first matching rule, a *fact* fires every rule, so
  each evaluation asserts a fact with a fresh id, drains every action
  (``start_action_for_state`` / ``complete_and_start_action``) and retracts it;
- one fixed session id per matcher: each new sid costs ~1 MB and past 1,024 the
  ruleset is poisoned;
- the calls are not thread-safe and never release the GIL: one lock, no ``await``
  between assert and retract;
- on an error mid-drain, ``abandon_action`` and retract anyway, so the next event
  starts from an empty state;
- ``close`` deletes the session state before the ruleset, or its memory leaks.

The layout (rulesets per event type, their limits, the fact encoder) comes from
``durable_plan``; this module only talks to durable.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import durable_rules_engine as dre

from engine.backends import BackendKind
from engine.backends.durable_facts import Encoder, generate_encoder
from engine.backends.durable_network import DurableLimits
from engine.backends.durable_plan import Plan, build_plan, rule_name
from engine.diagnostics import Code, Diagnostic, Location
from engine.errors import EvaluationError, RuleLoadError
from engine.model import CompiledRuleSet

SESSION = "yutang"
PRIMING_FACT = f'{{"sid":"{SESSION}","id":"prime","z_":1}}'  # matches the plan's sentinel rule only
PRIMING_RETRACTION = f'{{"sid":"{SESSION}","id":"prime"}}'
_serial = itertools.count(1)


@dataclass(frozen=True, slots=True)
class _TypeRulesets:
    handles: tuple[int, ...]
    encode: Encoder


class DurableMatcher:
    kind = BackendKind.DURABLE

    def __init__(self, ruleset: CompiledRuleSet, *, limits: DurableLimits | None = None) -> None:
        self.version = ruleset.version
        self._lock = threading.Lock()
        self._facts = itertools.count()
        self._keys = [p.key for p in ruleset.predicates]
        self._handles: list[int] = []
        self._closed = False
        plan = build_plan(ruleset.predicates, limits or DurableLimits())
        if plan.problems:
            raise RuleLoadError([_diagnostic(ruleset, p.predicate, p.message) for p in plan.problems])
        self._names = {rule_name(i, n): i for i, terms in enumerate(plan.terms) for n in range(len(terms))}
        self._types = self._create(ruleset, plan)

    def match(self, event_type: str, facts: Mapping[str, Any]) -> list[str]:
        rulesets = self._types[event_type]
        body = rulesets.encode(facts)
        hits: set[int] = set()
        with self._lock:
            if self._closed:
                raise EvaluationError(f"the durable matcher of rule set {self.version} is closed")
            number = next(self._facts)
            fact = f'{{"sid":"{SESSION}","id":"{number}",{body}'
            retraction = f'{{"sid":"{SESSION}","id":"{number}"}}'
            for handle in rulesets.handles:
                self._fire(handle, fact, retraction, hits)
        keys = self._keys
        return [keys[i] for i in sorted(hits)]

    def close(self) -> None:
        with self._lock:
            handles, self._handles, self._closed = self._handles, [], True
            _delete(handles)

    def _fire(self, handle: int, fact: str, retraction: str, hits: set[int]) -> None:
        """Assert, run every action, retract: whatever happens, nothing stays behind."""
        names = self._names
        state = None
        try:
            code, state = dre.assert_fact(handle, fact)
            if code == 0:  # 1: not handled, nothing matched (but see the retract below)
                result = dre.start_action_for_state(handle, state)
                message = result[1] if result else None
                while message:  # '{"p12":{"m":{...}}}', one per matching term
                    index = names.get(message[2 : message.index('"', 2)])
                    if index is not None:
                        hits.add(index)
                    message = dre.complete_and_start_action(handle, state)
        except Exception as err:
            if state is not None:
                _quietly(dre.abandon_action, handle, state)
            _quietly(dre.retract_fact, handle, retraction)
            raise EvaluationError(f"durable_rules could not evaluate the event: {err}") from err
        # Retract even a fact that matched nothing: skipping it left a state that made a
        # later delete_state crash the process (segfault, durable-rules 2.0.28).
        dre.retract_fact(handle, retraction)

    def _create(self, ruleset: CompiledRuleSet, plan: Plan) -> dict[str, _TypeRulesets]:
        serial = next(_serial)
        types: dict[str, _TypeRulesets] = {}
        for event_type, group in plan.groups.items():
            handles = []
            for number, shard in enumerate(group.shards):
                name = f"yutang_{ruleset.version[:16]}_{serial}_{event_type}_{number}"
                definition = plan.ruleset_json(group, shard)
                try:
                    handle = dre.create_ruleset(name, definition)
                    self._handles.append(handle)
                    self._fire(handle, PRIMING_FACT, PRIMING_RETRACTION, set())
                except Exception as err:  # never half-built, never an exception the loader does not expect
                    _delete(self._handles)
                    self._handles = []
                    message = f"durable_rules: could not create ruleset {name}: {err}"
                    raise RuleLoadError([_diagnostic(ruleset, shard[0], message)]) from err
                handles.append(handle)
            encode, _ = generate_encoder(group.guard, group.natives, group.projections)
            types[event_type] = _TypeRulesets(tuple(handles), encode)
        return types


def _delete(handles: list[int]) -> None:
    for handle in handles:
        _quietly(dre.delete_state, handle, SESSION)  # before the ruleset, or the state leaks
        _quietly(dre.delete_ruleset, handle)


def _quietly(call: Any, *args: Any) -> None:
    """Best-effort cleanup: the original error is what matters."""
    with contextlib.suppress(Exception):
        call(*args)


def _diagnostic(ruleset: CompiledRuleSet, index: int, message: str) -> Diagnostic:
    key = ruleset.predicates[index].key
    where = predicate_locations(ruleset).get(key, Location("<pack>"))
    text = message if message.startswith("durable_rules") else f"durable_rules: {key}: {message}"
    return Diagnostic(where, Code.LIMIT_EXCEEDED, text)


def predicate_locations(ruleset: CompiledRuleSet) -> dict[str, Location]:
    rules = {f"rule:{r.id}": r.location for r in ruleset.rules}
    tiers = {f"tier:{t.id}": t.location for t in ruleset.tiers}
    return rules | tiers | {f"offer:{o.id}": o.location for o in ruleset.offers}
