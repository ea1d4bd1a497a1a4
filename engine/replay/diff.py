"""Baseline vs new rule set, event by event, from the same feature values.

Both sets are evaluated on one snapshot per event, so every difference listed here
comes from the rules, never from two runs' counters drifting apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.evaluation import Evaluation
from engine.events import Event
from engine.replay.log import HONEST


def _side(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "decision": evaluation.decision.value,
        "score": evaluation.score,
        "rules": sorted(evaluation.rule_ids),
        "offers": sorted(o.id for o in evaluation.offers),
    }


@dataclass
class DiffTally:
    """Every event whose decision changed, and honest customers whose offers changed."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    offer_changes: int = 0
    honest_offers_changed: set[str] = field(default_factory=set)

    def add(self, event: Event, truth: str | None, baseline: Evaluation, new: Evaluation) -> None:
        offers_differ = {o.id for o in baseline.offers} != {o.id for o in new.offers}
        self.offer_changes += offers_differ
        if offers_differ and truth == HONEST:
            self.honest_offers_changed.add(event.customer)
        if baseline.decision is new.decision:
            return
        self.changes.append(
            {
                "event_id": event.event_id,
                "type": event.type,
                "customer": event.customer,
                "timestamp": event.timestamp.isoformat(),
                "truth": truth,
                "baseline": _side(baseline),
                "new": _side(new),
            }
        )

    def summary(self) -> dict[str, Any]:
        moves: dict[str, int] = {}
        for change in self.changes:
            key = f"{change['baseline']['decision']}->{change['new']['decision']}"
            moves[key] = moves.get(key, 0) + 1
        return {
            "changed_decisions": len(self.changes),
            "moves": dict(sorted(moves.items())),
            "events_with_other_offers": self.offer_changes,
            "changes": self.changes,
        }
