"""What the offers of a replay would have cost, with the pack's budgets applied in memory.

Replay applies every budget (total 限量, per customer, per day in the pack's zone) the
way the live ledger does: per exclusivity group, the best eligible offer that still
has budget is granted, else the next (``engine.offers.ledger.rank_groups``). Each grant
then lives on in :mod:`engine.replay.rewards`: a held reward waits for its release
outcome, expires at ``void_at`` in log time (its unit back in the budget), is voided by a
fraud label or chargeback, or clawed back by the late evidence the pack acts on.
Counters live in memory: the replay store stays a pure feature store, and one replay
cannot spend another's budget.

What each family *kept* is counted too (:mod:`engine.replay.families`): a reward is any
grant but points and privileges (what a farm can cash or resell: coupons, red packets,
gifts, trials below cost), kept when it ended granted or released and was not recovered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from engine.events import Event
from engine.model import ClawbackPolicy, Offer
from engine.offers.ledger import rank_groups
from engine.replay.rewards import CASH_EFFECTS, REWARD_EFFECTS, RewardBook

__all__ = ["CASH_EFFECTS", "REWARD_EFFECTS", "OfferTally"]


@dataclass
class OfferTally:
    """Per offer: eligible (budgets ignored), granted within budget, and each grant's life (the reward book)."""

    zone: ZoneInfo
    policy: ClawbackPolicy = field(default_factory=ClawbackPolicy)
    eligible: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # eligible but out of budget, no fall-back left
    offers: dict[str, Offer] = field(default_factory=dict)
    _used: Counter[str] = field(default_factory=Counter)
    _per_customer: Counter[tuple[str, str]] = field(default_factory=Counter)
    _per_day: Counter[tuple[str, str]] = field(default_factory=Counter)
    book: RewardBook = field(init=False)

    def __post_init__(self) -> None:
        self.book = RewardBook(self.policy, self._give_back)

    def add(
        self, event: Event, chosen: tuple[Offer, ...], eligible: tuple[Offer, ...], family: str | None = None
    ) -> list[str]:
        """Count one scored event's offers; return the ids granted within budget."""
        self.book.tick(event.epoch)
        for offer in chosen:
            self.eligible[offer.id] += 1
            self.offers[offer.id] = offer
        granted: list[str] = []
        day = event.timestamp.astimezone(self.zone).date().isoformat()
        chosen_ids = {o.id for o in chosen}
        for group in rank_groups(eligible):
            if not any(o.id in chosen_ids for o in group):
                continue
            winner = next((o for o in group if self._reserve(o, event, day)), None)
            if winner is None:
                self.refused[group[0].id] += 1
                continue
            self.offers[winner.id] = winner
            granted.append(winner.id)
            self.book.grant(winner, event, family)
        return granted

    def outcome(self, event: Event, *, linked: bool = False, peers: frozenset[str] = frozenset()) -> None:
        """Move the clock to the outcome and apply it: releases, uses, voids, clawbacks (``linked``: at checkout;
        ``peers``: the payer's strong links, which void a hold for a linked beneficiary instead of releasing it)."""
        self.book.outcome(event, linked=linked, peers=peers)

    def taken_by_family(self) -> dict[str, dict[str, Any]]:
        """Per family: rewards kept (count, cash value, trials, per offer) and every measure of their life."""
        out: dict[str, dict[str, Any]] = {}
        for family, row in sorted(self.book.by_family().items()):
            kept = row["kept"]
            out[family] = {
                "count": kept["count"],
                "cash_value": kept["value"],
                "trials": row["kept_trials"],
                "by_offer": dict(sorted(row["kept_by_offer"].items())),
                "flow": {m: row[m] for m in row if m not in ("kept_by_offer", "kept_trials", "hold_delay_hours")},
                "hold_delay_hours": row["hold_delay_hours"],
            }
        return out

    def _reserve(self, offer: Offer, event: Event, day: str) -> bool:
        budget = offer.budget
        beneficiary = event.referrer if offer.beneficiary == "referrer" and event.referrer else event.customer
        if budget.total is not None and self._used[offer.id] >= budget.total:
            return False
        if budget.per_customer is not None and self._per_customer[offer.id, beneficiary] >= budget.per_customer:
            return False
        if budget.per_day is not None and self._per_day[offer.id, day] >= budget.per_day:
            return False
        self._used[offer.id] += 1
        self._per_customer[offer.id, beneficiary] += 1
        self._per_day[offer.id, day] += 1
        return True

    def _give_back(self, offer: Offer, beneficiary: str) -> None:
        """A voided or expired hold returns its unit to the total and the beneficiary's cap (not the day's)."""
        self._used[offer.id] -= 1
        self._per_customer[offer.id, beneficiary] -= 1

    def summary(self) -> dict[str, Any]:
        per_offer: dict[str, Counter[str]] = {}
        for reward in self.book.rewards:
            counts = per_offer.setdefault(reward.offer.id, Counter())
            counts["granted" if reward.void_at is None else "held"] += 1
            if reward.state != "granted":
                counts["pending" if reward.state == "held" else reward.state] += 1
            counts["clawed_back"] += reward.clawback is not None
            counts["recovered"] += reward.recovered
            counts["kept"] += reward.kept
        rows = []
        cost = 0.0
        for offer_id in sorted(self.offers):
            offer, counts = self.offers[offer_id], per_offer.get(offer_id, Counter())
            value = offer.effect.value
            paid_out = counts["granted"] + counts["released"]
            if offer.effect.type in CASH_EFFECTS:
                cost += counts["kept"] * value
            rows.append(
                {
                    "offer": offer_id,
                    "effect": offer.effect.type.value,
                    "value": value,
                    "eligible": self.eligible[offer_id],
                    "eligible_value": round(self.eligible[offer_id] * value, 2),
                    "granted": counts["granted"],
                    "held": counts["held"],
                    "released": counts["released"],
                    "voided": counts["voided"],
                    "expired": counts["expired"],
                    "pending": counts["pending"],
                    "clawed_back": counts["clawed_back"],
                    "recovered": counts["recovered"],
                    "kept": counts["kept"],
                    "out_of_budget": self.refused[offer_id],
                    "granted_value": round(paid_out * value, 2),
                    "kept_value": round(counts["kept"] * value, 2),
                }
            )
        return {"offers": rows, "cash_cost": round(cost, 2), "cash_effects": sorted(e.value for e in CASH_EFFECTS)}
