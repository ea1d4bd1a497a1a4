"""Matched predicates -> score, decision, reasons, tier and eligible offers.

Score: sum of the scores of matching *active* rules, clamped to 0..100.
Decision: thresholds first; then overrides of matching active rules: ``deny``
always wins, ``allow`` (an allow-list hit) beats thresholds and ``review``
overrides, ``review`` raises ``allow`` to ``review``. Shadow rules are reported
apart and never change either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.events import EVENT_TYPES
from engine.model import CompiledRuleSet, Decision, DecisionPolicy, Mode, Offer, Rule
from engine.pack.durations import in_daily_range
from engine.stacking import order_group, stacked_groups


@dataclass(frozen=True, slots=True)
class Reason:
    rule: str
    code: int
    text_zh: str
    text_en: str
    score: int
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class WithheldOffer:
    offer: str
    why: str  # condition | tier | window | event_type | risk | exclusive


@dataclass(frozen=True, slots=True)
class Evaluation:
    decision: Decision
    score: int
    reasons: tuple[Reason, ...]
    shadow: tuple[Reason, ...]
    tier: str
    tier_label: str
    offers: tuple[Offer, ...]  # one per exclusivity group: what the customer gets if budgets allow
    withheld: tuple[WithheldOffer, ...]
    eligible: tuple[Offer, ...]  # every eligible offer, each group's best first: fall-backs when a budget is spent
    ruleset_version: str
    shadow_decision: Decision = Decision.ALLOW  # what the decision would be with shadow rules active
    facts_read: Mapping[str, Any] = field(default_factory=dict)

    @property
    def rule_ids(self) -> list[str]:
        return [r.rule for r in self.reasons]


class Evaluator:
    """Everything about a compiled rule set that is looked up per event, prepared once."""

    def __init__(self, ruleset: CompiledRuleSet) -> None:
        self.ruleset = ruleset
        self.zone = ZoneInfo(ruleset.timezone)
        self.rules = {r.id: r for r in ruleset.rules}
        self.default_tier = next(
            (t for t in ruleset.tiers if t.condition is None), ruleset.tiers[-1] if ruleset.tiers else None
        )
        self.stacked = stacked_groups(ruleset.offer_groups)
        # Per-event lookups prepared once: predicate keys, declaration order, offers by event type.
        self.tier_keys = tuple((t, f"tier:{t.id}" if t.condition is not None else None) for t in ruleset.tiers)
        self.condition_keys = {o.id: f"offer:{o.id}" for o in ruleset.offers if o.condition is not None}
        self.declared = {o.id: i for i, o in enumerate(ruleset.offers)}
        self.offers_for: dict[str, tuple[Offer, ...]] = {}
        self.other_type: dict[str, tuple[WithheldOffer, ...]] = {}
        for event_type in EVENT_TYPES:
            applies = tuple(o for o in ruleset.offers if not o.on or event_type in o.on)
            self.offers_for[event_type] = applies
            self.other_type[event_type] = tuple(
                WithheldOffer(o.id, "event_type") for o in ruleset.offers if o not in applies
            )

    def decide(
        self, *, event_type: str, timestamp: datetime, matched: Sequence[str], facts: Mapping[str, Any]
    ) -> Evaluation:
        matched_set = set(matched)
        active: list[Rule] = []
        shadow: list[Rule] = []
        for key in matched:
            if key.startswith("rule:"):
                rule = self.rules[key[5:]]
                (shadow if rule.mode is Mode.SHADOW else active).append(rule)
        score = _clamp(sum(r.score for r in active))
        decision = combine(score, active, self.ruleset.decision)
        shadow_decision = combine(
            _clamp(score + sum(r.score for r in shadow)), [*active, *shadow], self.ruleset.decision
        )
        tier = self._tier(matched_set)
        eligible, offers, withheld = self._offers(event_type, timestamp, tier, decision, matched_set, facts)
        return Evaluation(
            decision=decision,
            score=score,
            reasons=tuple(_reason(r, facts) for r in active),
            shadow=tuple(_reason(r, facts) for r in shadow),
            tier=tier.id if tier else "",
            tier_label=tier.label if tier else "",
            offers=offers,
            withheld=withheld,
            eligible=eligible,
            ruleset_version=self.ruleset.version,
            shadow_decision=shadow_decision,
            facts_read=facts,
        )

    def _tier(self, matched: set[str]):  # type: ignore[no-untyped-def]
        for tier, key in self.tier_keys:
            if key is None or key in matched:
                return tier
        return self.default_tier

    def _offers(  # type: ignore[no-untyped-def]
        self,
        event_type: str,
        timestamp: datetime,
        tier,
        decision: Decision,
        matched: set[str],
        facts: Mapping[str, Any],
    ) -> tuple[tuple[Offer, ...], tuple[Offer, ...], tuple[WithheldOffer, ...]]:
        eligible: list[Offer] = []
        withheld: list[WithheldOffer] = list(self.other_type[event_type])
        local = timestamp.astimezone(self.zone)
        tier_id = tier.id if tier else ""
        for offer in self.offers_for[event_type]:
            why = self._why_not(offer, local, tier_id, decision, matched)
            if why:
                withheld.append(WithheldOffer(offer.id, why))
            else:
                eligible.append(offer)
        ranked = self._rank(eligible, facts)
        chosen: list[Offer] = []
        taken_groups: set[str] = set()
        for offer in ranked:
            group = offer.exclusive_group
            if group is None or group in self.stacked or group not in taken_groups:
                chosen.append(offer)
                if group:
                    taken_groups.add(group)
            else:
                withheld.append(WithheldOffer(offer.id, "exclusive"))
        chosen.sort(key=lambda o: self.declared[o.id])
        return tuple(ranked), tuple(chosen), tuple(withheld)

    def _rank(self, eligible: list[Offer], facts: Mapping[str, Any]) -> list[Offer]:
        """Every eligible offer, each group in its policy's order (stable: declaration breaks ties)."""
        amount, customer = facts.get("event.amount"), facts.get("event.customer")
        groups: dict[str, list[Offer]] = {}
        for offer in sorted(eligible, key=lambda o: -o.priority):
            groups.setdefault(offer.exclusive_group or f"\x00{offer.id}", []).append(offer)
        ranked: list[Offer] = []
        for key, members in groups.items():
            declared = self.ruleset.offer_groups.get(key)
            ranked += order_group(members, declared, amount, customer) if declared else members
        return ranked

    def _why_not(self, offer: Offer, local: datetime, tier: str, decision: Decision, matched: set[str]) -> str:
        if tier not in offer.tiers:
            return "tier"
        key = self.condition_keys.get(offer.id)
        if key is not None and key not in matched:
            return "condition"
        if not in_window(offer, local):
            return "window"
        if decision in offer.withhold_on:
            return "risk"
        return ""


def in_window(offer: Offer, local: datetime) -> bool:
    window = offer.window
    if window is None:
        return True
    if window.starts and local < window.starts:
        return False
    if window.ends and local > window.ends:
        return False
    if window.daily_from and window.daily_to:
        return in_daily_range(local.time(), window.daily_from, window.daily_to)
    return True


def combine(score: int, rules: Sequence[Rule], policy: DecisionPolicy) -> Decision:
    decision = (
        Decision.DENY if score >= policy.deny_at else Decision.REVIEW if score >= policy.review_at else Decision.ALLOW
    )
    overrides = {r.decision for r in rules if r.decision is not None}
    if Decision.DENY in overrides:
        return Decision.DENY
    if Decision.ALLOW in overrides:
        return Decision.ALLOW
    if Decision.REVIEW in overrides and decision is Decision.ALLOW:
        return Decision.REVIEW
    return decision


def _clamp(score: int) -> int:
    return max(0, min(100, score))


def _reason(rule: Rule, facts: Mapping[str, Any]) -> Reason:
    values = {name: facts.get(name) for name in rule.reads}
    return Reason(rule.id, rule.code, rule.reason_zh, rule.reason_en, rule.score, values)
