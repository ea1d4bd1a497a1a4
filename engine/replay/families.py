"""The per-family scorecard of a replay: which farms were caught, which honest look-alikes were hurt.

A log's events carry a ``family`` (:mod:`engine.replay.log`): an attack family such as
``slow_drip``, or an honest look-alike such as ``family_tablet``. Per family, over its
scored events in log order:

- an attack family is **caught** when at least half of its events *after its third*
  are not allowed (review or deny): the first few accounts of any farm look like anyone,
  what counts is whether the farm keeps working once it has shown itself;
- an honest family's **false-positive rate** is its share of events not allowed;
- **rewards kept**: offers granted within budget on the family's events that ended
  granted or released and were not recovered by a clawback, as a count and, for cash
  effects, a value; beside it each reward's life (granted, held, released, voided,
  expired, clawed back, recovered, pending at the end of the log) and, for honest
  families, how much later a hold let a reward out (:mod:`engine.replay.rewards`).

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
from engine.replay.rewards import MEASURES

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
    # honest families: each shadow rule's hits, so a rule can be seen to stay under the bar before it goes live
    shadow: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, family: str, truth: str, allowed: bool, shadow: tuple[str, ...] = ()) -> None:
        self.truth.setdefault(family, truth)
        self.events[family] += 1
        self.blocked[family] += not allowed
        if shadow and truth == HONEST:
            self.shadow.setdefault(family, Counter()).update(shadow)
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
                honest[family] = row | {
                    "false_positive_rate": ratio(self.blocked[family], self.events[family]),
                    "shadow_hit_rates": {
                        rule: ratio(hits, self.events[family])
                        for rule, hits in sorted(self.shadow.get(family, Counter()).items())
                    },
                }
            else:
                share = ratio(self.judged_blocked[family], self.judged[family])
                attack[family] = row | {
                    "recall": ratio(self.blocked[family], self.events[family]),
                    "not_allowed_after_third": share,
                    "caught": share is not None and share >= 0.5,
                }
        return {"attack": attack, "honest": honest, "scorecard": self._scorecard(attack, honest, offers)}

    def _scorecard(self, attack: dict[str, Any], honest: dict[str, Any], offers: OfferTally) -> dict[str, Any]:
        blocked_attack = sum(r["not_allowed"] for r in attack.values())
        blocked_honest = sum(r["not_allowed"] for r in honest.values())
        honest_events = sum(r["events"] for r in honest.values())
        worst = max(honest.items(), key=lambda kv: kv[1]["false_positive_rate"] or 0, default=None)
        rewards = {
            key: round(sum(r["rewards"][key] for r in attack.values()), 2) for key in ("count", "cash_value", "trials")
        }
        honest_kept = {
            key: round(sum(r["rewards"][key] for r in honest.values()), 2) for key in ("count", "cash_value", "trials")
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
            "attacker_flow": _flow_total(attack),
            "honest_rewards": honest_kept
            | {
                "flow": _flow_total(honest),
                "hold_delay_hours": offers.book.delays(set(honest)),
            },
            "targets": TARGETS,
        }


_NO_REWARDS: dict[str, Any] = {
    "count": 0, "cash_value": 0.0, "trials": 0, "by_offer": {}, "flow": {}, "hold_delay_hours": None,
}  # fmt: skip


def _flow_total(rows: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each measure of the rewards' life summed over ``rows``' families: count and cash value."""
    out: dict[str, dict[str, float]] = {m: {"count": 0, "value": 0.0} for m in MEASURES}
    for row in rows.values():
        for measure, cell in row["rewards"]["flow"].items():
            out[measure]["count"] += cell["count"]
            out[measure]["value"] = round(out[measure]["value"] + cell["value"], 2)
    return out


def rewards_cut(new: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """How much less attackers took with the new set than with the baseline, per measure."""
    before, after = baseline["scorecard"]["attacker_rewards"], new["scorecard"]["attacker_rewards"]
    out: dict[str, Any] = {"baseline": before, "new": after}
    for key in ("count", "cash_value", "trials"):
        out[f"{key}_cut"] = round(1 - after[key] / before[key], 4) if before[key] else None
    per_family, value_per_family = {}, {}
    for family, row in baseline["attack"].items():
        now = new["attack"].get(family, {}).get("rewards", _NO_REWARDS)
        per_family[family] = {"baseline": row["rewards"]["count"], "new": now["count"]}
        value_per_family[family] = {"baseline": row["rewards"]["cash_value"], "new": now["cash_value"]}
    out["count_by_family"] = per_family
    out["cash_value_by_family"] = value_per_family
    honest_before, honest_after = baseline["scorecard"]["honest_rewards"], new["scorecard"]["honest_rewards"]
    out["honest_kept"] = {
        side: {"count": r["count"], "cash_value": r["cash_value"], "trials": r["trials"]}
        for side, r in (("baseline", honest_before), ("new", honest_after))
    }
    return out
