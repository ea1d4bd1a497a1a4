"""The per-family scorecard of a replay: which farms were caught, which honest look-alikes were hurt.

A log's events carry a ``family`` (:mod:`engine.replay.log`): an attack family such as
``slow_drip``, or an honest look-alike such as ``family_tablet``. Per family, over its
scored events in log order:

- an attack family is **caught** when at least half of its events *after its third*
  are not allowed (review or deny): the first few accounts of any farm look like anyone,
  what counts is whether the farm keeps working once it has shown itself;
- an honest family's **false-positive rate** is its share of events not allowed;
- **rewards taken**: offers granted within budget on the family's events (held rewards,
  the referral gift, when their release arrives), as a count and, for cash effects, a
  value (see :mod:`engine.replay.offers`).

Over all labelled events: **precision** of non-allow decisions (attack events among
those not allowed) and the share of honest events allowed. The scorecard has the
issue's targets beside the figures, so a run reads as met / not met per line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from engine.replay.log import HONEST
from engine.replay.offers import OfferTally

#: An attack family is judged on its events after this many (its first accounts look like anyone).
GRACE_EVENTS = 3
TARGETS = {
    "caught_share": 0.9,  # at least 9 of 10 attack families
    "precision": 0.95,
    "honest_allowed": 0.99,
    "worst_honest_false_positive_rate": 0.05,
    "attacker_rewards_cut": 0.8,
}


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class FamilyTally:
    """Events, events not allowed (all and after the grace events) per family."""

    truth: dict[str, str] = field(default_factory=dict)  # family -> "honest" or its attack kind
    events: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)
    judged: Counter[str] = field(default_factory=Counter)  # events after the grace events
    judged_blocked: Counter[str] = field(default_factory=Counter)

    def add(self, family: str, truth: str, allowed: bool) -> None:
        self.truth.setdefault(family, truth)
        self.events[family] += 1
        self.blocked[family] += not allowed
        if self.events[family] > GRACE_EVENTS:
            self.judged[family] += 1
            self.judged_blocked[family] += not allowed

    def summary(self, offers: OfferTally) -> dict[str, Any]:
        taken = offers.taken_by_family()
        attack, honest = {}, {}
        for family in sorted(self.events):
            row: dict[str, Any] = {
                "events": self.events[family],
                "not_allowed": self.blocked[family],
                "rewards": taken.get(family, _NO_REWARDS),
            }
            if self.truth[family] == HONEST:
                honest[family] = row | {"false_positive_rate": ratio(self.blocked[family], self.events[family])}
            else:
                share = ratio(self.judged_blocked[family], self.judged[family])
                attack[family] = row | {
                    "recall": ratio(self.blocked[family], self.events[family]),
                    "not_allowed_after_third": share,
                    "caught": share is not None and share >= 0.5,
                }
        return {"attack": attack, "honest": honest, "scorecard": self._scorecard(attack, honest)}

    def _scorecard(self, attack: dict[str, Any], honest: dict[str, Any]) -> dict[str, Any]:
        blocked_attack = sum(r["not_allowed"] for r in attack.values())
        blocked_honest = sum(r["not_allowed"] for r in honest.values())
        honest_events = sum(r["events"] for r in honest.values())
        worst = max(honest.items(), key=lambda kv: kv[1]["false_positive_rate"] or 0, default=None)
        rewards = {
            key: round(sum(r["rewards"][key] for r in attack.values()), 2) for key in ("count", "cash_value", "trials")
        }
        return {
            "attack_families": len(attack),
            "caught": sum(r["caught"] for r in attack.values()),
            "missed": sorted(f for f, r in attack.items() if not r["caught"]),
            "precision": ratio(blocked_attack, blocked_attack + blocked_honest),
            "honest_allowed": ratio(honest_events - blocked_honest, honest_events),
            "worst_honest_family": worst[0] if worst else None,
            "worst_honest_false_positive_rate": worst[1]["false_positive_rate"] if worst else None,
            "attacker_rewards": rewards,
            "targets": TARGETS,
        }


_NO_REWARDS: dict[str, Any] = {"count": 0, "cash_value": 0.0, "trials": 0, "by_offer": {}}


def rewards_cut(new: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """How much less attackers took with the new set than with the baseline, per measure."""
    before, after = baseline["scorecard"]["attacker_rewards"], new["scorecard"]["attacker_rewards"]
    out: dict[str, Any] = {"baseline": before, "new": after}
    for key in ("count", "cash_value", "trials"):
        out[f"{key}_cut"] = round(1 - after[key] / before[key], 4) if before[key] else None
    per_family = {}
    for family, row in baseline["attack"].items():
        base = row["rewards"]["count"]
        now = new["attack"].get(family, {}).get("rewards", _NO_REWARDS)["count"]
        per_family[family] = {"baseline": base, "new": now}
    out["count_by_family"] = per_family
    return out
