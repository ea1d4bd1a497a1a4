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
from engine.model import CompiledRuleSet, Decision, DecisionPolicy, Mode, Offer, OfferGroup, Rule
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
        self._reason_heads = {f"rule:{r.id}": _ReasonHead(r) for r in ruleset.rules}
        self._withheld = {(o.id, why): WithheldOffer(o.id, why) for o in ruleset.offers for why in _WHY_NOT}
        # The eligible offers are ranked by priority (stable): filtering a list sorted once is the same.
        self._by_priority = {t: sorted(offers, key=lambda o: -o.priority) for t, offers in self.offers_for.items()}
        self._group_key = {o.id: o.exclusive_group or f"\x00{o.id}" for o in ruleset.offers}
        groups = ruleset.offer_groups
        self._plain_rank = {t: _ranked_by_priority(offers, groups) for t, offers in self.offers_for.items()}

    def decide(
        self,
        *,
        event_type: str,
        timestamp: datetime,
        matched: Sequence[str],
        facts: Mapping[str, Any],
        local: datetime | None = None,
    ) -> Evaluation:
        """The evaluation of one event; ``local`` is ``timestamp`` in the pack's zone, if already known."""
        active: list[_ReasonHead] = []
        shadow: list[_ReasonHead] = []
        heads = self._reason_heads
        for key in matched:
            if key.startswith("rule:"):
                head = heads[key]
                (shadow if head.shadow else active).append(head)
        policy = self.ruleset.decision
        score = _clamp(sum([h.score for h in active]))
        overrides: set[Decision] = {h.decision for h in active if h.decision is not None} if active else set()
        decision = _decide(score, overrides, policy)
        shadow_decision = decision
        if shadow:
            shadow_score = _clamp(score + sum(h.score for h in shadow))
            overrides |= {h.decision for h in shadow if h.decision is not None}
            shadow_decision = _decide(shadow_score, overrides, policy)
        matched_set = set(matched)
        tier = self._tier(matched_set)
        if local is None:
            local = timestamp.astimezone(self.zone)
        eligible, offers, withheld = self._offers(event_type, local, tier, decision, matched_set, facts)
        return Evaluation(
            decision=decision,
            score=score,
            reasons=tuple([h.reason(facts) for h in active]),
            shadow=tuple([h.reason(facts) for h in shadow]) if shadow else (),
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
        local: datetime,
        tier,
        decision: Decision,
        matched: set[str],
        facts: Mapping[str, Any],
    ) -> tuple[tuple[Offer, ...], tuple[Offer, ...], tuple[WithheldOffer, ...]]:
        eligible: set[str] = set()
        withheld: list[WithheldOffer] = list(self.other_type[event_type])
        tier_id = tier.id if tier else ""
        for offer in self.offers_for[event_type]:
            why = self._why_not(offer, local, tier_id, decision, matched)
            if why:
                withheld.append(self._withheld[offer.id, why])
            else:
                eligible.add(offer.id)
        ranked = self._rank(event_type, [o for o in self._by_priority[event_type] if o.id in eligible], facts)
        chosen: list[Offer] = []
        taken_groups: set[str] = set()
        for offer in ranked:
            group = offer.exclusive_group
            if group is None or group in self.stacked or group not in taken_groups:
                chosen.append(offer)
                if group:
                    taken_groups.add(group)
            else:
                withheld.append(self._withheld[offer.id, "exclusive"])
        chosen.sort(key=lambda o: self.declared[o.id])
        return tuple(ranked), tuple(chosen), tuple(withheld)

    def _rank(self, event_type: str, by_priority: list[Offer], facts: Mapping[str, Any]) -> list[Offer]:
        """Every eligible offer, each group in its policy's order (stable: declaration breaks ties)."""
        if self._plain_rank[event_type]:
            return by_priority
        amount, customer = facts.get("event.amount"), facts.get("event.customer")
        groups: dict[str, list[Offer]] = {}
        for offer in by_priority:
            groups.setdefault(self._group_key[offer.id], []).append(offer)
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
        if offer.window is not None and not in_window(offer, local):
            return "window"
        if decision in offer.withhold_on:
            return "risk"
        return ""


def _ranked_by_priority(offers: Sequence[Offer], declared: Mapping[str, OfferGroup]) -> bool:
    """Whether ranking any subset of ``offers`` keeps priority order: no declared policy, no shared group."""
    groups = [o.exclusive_group for o in offers if o.exclusive_group is not None]
    return len(set(groups)) == len(groups) and not any(g in declared for g in groups)


_WHY_NOT = ("condition", "tier", "window", "event_type", "risk", "exclusive")


class _ReasonHead:
    """What a matched rule contributes, read once from the rule: its reason is this plus values."""

    __slots__ = ("decision", "fields", "reads", "score", "shadow")

    def __init__(self, rule: Rule) -> None:
        self.score = rule.score
        self.decision = rule.decision
        self.shadow = rule.mode is Mode.SHADOW
        self.reads = rule.reads
        self.fields = (rule.id, rule.code, rule.reason_zh, rule.reason_en, rule.score)

    def reason(self, facts: Mapping[str, Any]) -> Reason:
        get = facts.get
        return Reason(*self.fields, {name: get(name) for name in self.reads})


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
    return _decide(score, {r.decision for r in rules if r.decision is not None}, policy)


def _decide(score: int, overrides: set[Decision], policy: DecisionPolicy) -> Decision:
    decision = (
        Decision.DENY if score >= policy.deny_at else Decision.REVIEW if score >= policy.review_at else Decision.ALLOW
    )
    if not overrides:
        return decision
    if Decision.DENY in overrides:
        return Decision.DENY
    if Decision.ALLOW in overrides:
        return Decision.ALLOW
    if Decision.REVIEW in overrides and decision is Decision.ALLOW:
        return Decision.REVIEW
    return decision


def _clamp(score: int) -> int:
    return max(0, min(100, score))
