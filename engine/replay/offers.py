"""What the offers of a replay would have cost, with the pack's budgets applied in memory.

Replay applies every budget (total 限量, per customer, per day in the pack's zone) the
way the live ledger does: per exclusivity group, the best eligible offer that still
has budget is granted, else the next (``engine.offers.ledger.rank_groups``). Held
rewards (a referral gift) cost nothing until their release outcome (the invitee's
``order_paid``) arrives within ``void_after_days``; the report shows them as held,
released and never released. Counters live in memory: the replay store stays a
pure feature store, and one replay cannot spend another's budget.

What each family *took* is counted too (:mod:`engine.replay.families`): a reward is any
grant but points and privileges (what a farm can cash or resell: coupons, red packets,
gifts, trials below cost), counted when granted, or for a held reward when released.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from engine.events import Event
from engine.model import EffectType, Offer
from engine.offers.ledger import rank_groups

#: Effects that are money out of the merchant's pocket; a trial is a price, points are points.
CASH_EFFECTS: frozenset[EffectType] = frozenset({EffectType.COUPON, EffectType.RED_PACKET, EffectType.GIFT})
#: Effects a farm takes for what they are worth to it; points and privileges are not its trade.
REWARD_EFFECTS: frozenset[EffectType] = CASH_EFFECTS | {EffectType.TRIAL, EffectType.DISCOUNT}


@dataclass
class _Hold:
    offer: Offer
    deadline: float
    family: str | None


@dataclass
class OfferTally:
    """Per offer: eligible (budgets ignored), granted within budget, held and released."""

    zone: ZoneInfo
    eligible: Counter[str] = field(default_factory=Counter)
    granted: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # eligible but out of budget, no fall-back left
    held: Counter[str] = field(default_factory=Counter)
    released: Counter[str] = field(default_factory=Counter)
    offers: dict[str, Offer] = field(default_factory=dict)
    _used: Counter[str] = field(default_factory=Counter)
    _per_customer: Counter[tuple[str, str]] = field(default_factory=Counter)
    _per_day: Counter[tuple[str, str]] = field(default_factory=Counter)
    _pending: defaultdict[str, list[_Hold]] = field(default_factory=lambda: defaultdict(list))
    taken: Counter[tuple[str, str]] = field(default_factory=Counter)  # (family, offer) -> rewards paid out

    def add(
        self, event: Event, chosen: tuple[Offer, ...], eligible: tuple[Offer, ...], family: str | None = None
    ) -> list[str]:
        """Count one scored event's offers; return the ids granted within budget."""
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
            if winner.hold is None:
                self.granted[winner.id] += 1
                self._took(family, winner)
            else:
                self.held[winner.id] += 1
                deadline = event.epoch + winner.hold.seconds
                self._pending[event.customer].append(_Hold(winner, deadline, family))
        return granted

    def outcome(self, event: Event) -> None:
        """Release the rewards held on this customer when their release outcome arrives in time."""
        pending = self._pending.get(event.customer)
        if not pending:
            return
        keep: list[_Hold] = []
        for hold in pending:
            assert hold.offer.hold is not None
            if hold.offer.hold.release_on == event.type and event.epoch <= hold.deadline:
                self.released[hold.offer.id] += 1
                self._took(hold.family, hold.offer)
            else:
                keep.append(hold)
        self._pending[event.customer] = keep

    def _took(self, family: str | None, offer: Offer) -> None:
        if family is not None and offer.effect.type in REWARD_EFFECTS:
            self.taken[family, offer.id] += 1

    def taken_by_family(self) -> dict[str, dict[str, Any]]:
        """Per family: rewards paid out (count), their cash value, trials among them, and per offer."""
        out: dict[str, dict[str, Any]] = {}
        for (family, offer_id), count in sorted(self.taken.items()):
            offer = self.offers[offer_id]
            row = out.setdefault(family, {"count": 0, "cash_value": 0.0, "trials": 0, "by_offer": {}})
            row["count"] += count
            row["by_offer"][offer_id] = count
            if offer.effect.type in CASH_EFFECTS:
                row["cash_value"] = round(row["cash_value"] + count * offer.effect.value, 2)
            if offer.effect.type is EffectType.TRIAL:
                row["trials"] += count
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

    def summary(self) -> dict[str, Any]:
        rows = []
        cost = 0.0
        for offer_id in sorted(self.offers):
            offer = self.offers[offer_id]
            value = offer.effect.value
            paid_out = self.granted[offer_id] + self.released[offer_id]
            if offer.effect.type in CASH_EFFECTS:
                cost += paid_out * value
            rows.append(
                {
                    "offer": offer_id,
                    "effect": offer.effect.type.value,
                    "value": value,
                    "eligible": self.eligible[offer_id],
                    "eligible_value": round(self.eligible[offer_id] * value, 2),
                    "granted": self.granted[offer_id],
                    "held": self.held[offer_id],
                    "released": self.released[offer_id],
                    "out_of_budget": self.refused[offer_id],
                    "granted_value": round(paid_out * value, 2),
                }
            )
        return {"offers": rows, "cash_cost": round(cost, 2), "cash_effects": sorted(e.value for e in CASH_EFFECTS)}
