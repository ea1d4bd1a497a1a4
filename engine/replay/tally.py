"""Counting one rule set's answers over a replay: decisions, rule hits, offers, truth.

An event is *flagged* when its decision is review or deny; a rule *flags* an event
when it fires on it (shadow rules included: that is how a marketer judges a shadow
rule before making it active). Precision and recall are computed over scored events
that carry a truth label; a rule's recall counts only the abusive events of the
types it is declared ``on``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from engine.evaluation import Evaluation
from engine.events import SCORED_TYPES, Event
from engine.model import Decision, Mode
from engine.replay.families import FamilyTally
from engine.replay.log import HONEST
from engine.replay.offers import OfferTally
from engine.rule_engine import LoadedRuleSet

FLAGGED: frozenset[Decision] = frozenset({Decision.REVIEW, Decision.DENY})


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (reported as "-")."""
    return round(part / whole, 4) if whole else None


@dataclass
class PackTally:
    """Everything counted about one rule set's evaluations."""

    loaded: LoadedRuleSet
    decisions: Counter[str] = field(default_factory=Counter)
    by_type: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    active_hits: Counter[str] = field(default_factory=Counter)
    shadow_hits: Counter[str] = field(default_factory=Counter)
    shadow_would_change: int = 0
    labelled: Counter[tuple[str, str]] = field(default_factory=Counter)  # (truth, type) -> events
    flagged: Counter[tuple[str, str]] = field(default_factory=Counter)  # (truth, type) -> flagged events
    rule_truth: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    kind_rules: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    honest_withheld: set[str] = field(default_factory=set)  # honest customers denied an offer by risk
    false_alarms: Counter[tuple[str, ...]] = field(default_factory=Counter)  # rules behind flagged honest events
    #: the same per honest family: which rules hurt the office wave, which the family tablet
    family_alarms: defaultdict[str, Counter[tuple[str, ...]]] = field(default_factory=lambda: defaultdict(Counter))
    families: FamilyTally = field(default_factory=FamilyTally)
    offers: OfferTally = field(init=False)

    def __post_init__(self) -> None:
        self.offers = OfferTally(zone=ZoneInfo(self.loaded.ruleset.timezone), policy=self.loaded.ruleset.clawback)

    def add(
        self, event: Event, truth: str | None, evaluation: Evaluation, family: str | None = None,
        peers: frozenset[str] = frozenset(),
    ) -> list[str]:  # fmt: skip
        """Count one scored event (``peers``: a group-buy member's strong links); return the offers granted."""
        decision = evaluation.decision.value
        self.decisions[decision] += 1
        self.by_type[event.type][decision] += 1
        fired = [r.rule for r in evaluation.reasons] + [r.rule for r in evaluation.shadow]
        self.active_hits.update(r.rule for r in evaluation.reasons)
        self.shadow_hits.update(r.rule for r in evaluation.shadow)
        self.shadow_would_change += evaluation.shadow_decision != evaluation.decision
        if truth is not None:
            family = family or truth
            self.families.add(
                family, truth, evaluation.decision not in FLAGGED, tuple(r.rule for r in evaluation.shadow)
            )
            key = (truth, event.type)
            self.labelled[key] += 1
            self.flagged[key] += evaluation.decision in FLAGGED
            for rule in fired:
                self.rule_truth[rule][truth] += 1
            if truth != HONEST:
                self.kind_rules[truth].update(fired)
            else:
                if evaluation.decision in FLAGGED:
                    rules = tuple(sorted(r.rule for r in evaluation.reasons))
                    self.false_alarms[rules] += 1
                    self.family_alarms[family][rules] += 1
                if any(w.why == "risk" for w in evaluation.withheld):
                    self.honest_withheld.add(event.customer)
        self.offers.book.checkout(event)
        if evaluation.decision is Decision.DENY:
            self.offers.book.denied_checkout(event)  # a denied checkout's late evidence (rewards.py)
            self.offers.book.self_filled(event, peers)  # a denied join linked to its leader (rewards.py)
        return self.offers.add(event, evaluation.offers, evaluation.eligible, family if truth is not None else None)

    # -- summaries ---------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        ruleset = self.loaded.ruleset
        out: dict[str, Any] = {
            "version": ruleset.version,
            "name": ruleset.name,
            "decisions": {d.value: self.decisions[d.value] for d in Decision},
            "decisions_by_type": {t: {d.value: c[d.value] for d in Decision} for t, c in sorted(self.by_type.items())},
            "rules": self._rules(),
            "shadow_would_change": self.shadow_would_change,
            **self.offers.summary(),
        }
        if self.labelled:
            out["truth"] = self._truth()
            out["families"] = self.families.summary(self.offers)
        return out

    def _rules(self) -> list[dict[str, Any]]:
        rows = []
        for rule in self.loaded.ruleset.rules:
            hits = self.active_hits[rule.id] if rule.mode is Mode.ACTIVE else self.shadow_hits[rule.id]
            row: dict[str, Any] = {
                "rule": rule.id,
                "code": rule.code,
                "mode": rule.mode.value,
                "hits": hits,
                "lowers_risk": rule.score < 0 or rule.decision is Decision.ALLOW,
            }
            if self.labelled:
                by_truth = self.rule_truth[rule.id]
                abusive_hits = sum(n for t, n in by_truth.items() if t != HONEST)
                scope = rule.on or SCORED_TYPES
                abusive_in_scope = sum(n for (t, ty), n in self.labelled.items() if t != HONEST and ty in scope)
                row |= {
                    "abusive_hits": abusive_hits,
                    "honest_hits": by_truth[HONEST],
                    "hits_by_truth": dict(sorted(by_truth.items())),
                    "precision": ratio(abusive_hits, abusive_hits + by_truth[HONEST]),
                    "recall": ratio(abusive_hits, abusive_in_scope),
                }
            rows.append(row)
        return rows

    def _truth(self) -> dict[str, Any]:
        kinds = sorted({t for t, _ in self.labelled} - {HONEST})
        honest_flagged = sum(n for (t, _), n in self.flagged.items() if t == HONEST)
        honest_total = sum(n for (t, _), n in self.labelled.items() if t == HONEST)
        abusive_total = sum(n for (t, _), n in self.labelled.items() if t != HONEST)
        abusive_flagged = sum(n for (t, _), n in self.flagged.items() if t != HONEST)
        per_kind = {}
        for kind in kinds:
            total = sum(n for (t, _), n in self.labelled.items() if t == kind)
            caught = sum(n for (t, _), n in self.flagged.items() if t == kind)
            per_kind[kind] = {
                "events": total,
                "flagged": caught,
                "precision": ratio(caught, caught + honest_flagged),
                "recall": ratio(caught, total),
                "recall_by_type": {
                    ty: ratio(self.flagged[kind, ty], n) for (t, ty), n in sorted(self.labelled.items()) if t == kind
                },
                "top_rules": [{"rule": r, "hits": n} for r, n in self.kind_rules[kind].most_common(5)],
            }
        return {
            "overall": {
                "abusive_events": abusive_total,
                "honest_events": honest_total,
                "flagged_abusive": abusive_flagged,
                "flagged_honest": honest_flagged,
                "precision": ratio(abusive_flagged, abusive_flagged + honest_flagged),
                "recall": ratio(abusive_flagged, abusive_total),
            },
            "kinds": per_kind,
            "honest_flagged_by_type": {ty: self.flagged[t, ty] for (t, ty) in sorted(self.labelled) if t == HONEST},
            "honest_customers_withheld": len(self.honest_withheld),
            "false_alarm_reasons": [
                {"rules": list(rules), "events": n} for rules, n in self.false_alarms.most_common(10)
            ],
            "false_alarm_reasons_by_family": {
                family: [{"rules": list(rules), "events": n} for rules, n in alarms.most_common(5)]
                for family, alarms in sorted(self.family_alarms.items())
            },
        }
