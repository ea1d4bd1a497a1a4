"""What still decides when the feature store is unreachable: the rules that read only the event.

A pack's fail mode (``open``: allow, ``closed``: review) answers an event whose features
could not be read. Alone it would also answer an emulator running a script, or a customer
who names itself as its referrer, with allow: the event says so itself, and a farm that
waits for an outage (or causes one, by load) would pass. So the rules whose conditions read
nothing from Redis (event fields, attributes, derived identity parts such as
``phone.segment``, the pack's own static lists) are evaluated as on any other day, and the
answer is the stricter of their decision and the fail mode, never below it.

Not evaluated: any rule that reads a stored feature (counts, windows, links, the referral
graph) or a live list (``*.blocked`` / ``.allowed`` / ``.watched``: they are in Redis). Its
value is unknown, and missing values would make ``not (x > 5)`` true; so a block-list entry
is not read during an outage (a type whose abuse costs money should fail ``closed``).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.evaluation import Reason, combine
from engine.events import Event
from engine.model import DECISION_SEVERITY, CompiledRuleSet, Decision
from engine.rule_engine import LoadedRuleSet


@dataclass(frozen=True, slots=True)
class StoreFree:
    """The event-only rules' verdict: their reasons, score and decision (None when none fired)."""

    reasons: tuple[Reason, ...]
    score: int
    decision: Decision | None


def evaluate_store_free(loaded: LoadedRuleSet, event: Event) -> StoreFree:
    """Evaluate ``event`` with every stored feature missing; keep only the rules that read none."""
    ruleset = loaded.ruleset
    evaluation = loaded.evaluate(event, dict.fromkeys(ruleset.features))
    rules = {rule.id: rule for rule in ruleset.rules}
    stored = _stored_names(ruleset)
    kept = tuple(r for r in evaluation.reasons if not stored.intersection(rules[r.rule].reads))
    if not kept:
        return StoreFree((), 0, None)
    score = max(0, min(100, sum(r.score for r in kept)))
    return StoreFree(kept, score, combine(score, [rules[r.rule] for r in kept], ruleset.decision))


def stricter(fail: Decision, found: Decision | None) -> Decision:
    """``found`` when it is stricter than the fail mode's ``fail``, else ``fail``: nothing here lowers it."""
    return found if found is not None and DECISION_SEVERITY[found] > DECISION_SEVERITY[fail] else fail


def _stored_names(ruleset: CompiledRuleSet) -> frozenset[str]:
    """Every name a condition reads that lives in Redis: the pack's features, the live lists among them."""
    return frozenset(ruleset.features)
