"""The rewards of a replay as a ledger the log's clock moves: granted, held, released, voided, clawed back, kept.

Live, a reward's life spans days: a held gift waits for its release outcome, the
scheduler (``yutang worker``) expires it at ``void_at``, late evidence voids it or marks
it for clawback (docs/review.md). Replay plays that life out in log time, in memory:

- **time passes**: before each event, every pending hold whose ``void_at`` is not after
  the event's time expires, as the worker would have expired it (its budget unit goes
  back to the offer's total and the beneficiary's per-customer count, as the ledger's
  TRANSITION script does; the per-day count is not given back);
- **release**: a hold is released by its subject's first outcome of the hold's type
  (``release_on``) dated before ``void_at``; with a ``return_window`` that outcome (a paid
  order) starts the window instead, the hold is released when the window has passed (as
  the worker would release it) and voided by the subject's refund within it;
- **void**: a ``label: fraud`` or a ``chargeback`` voids the pending holds its customer is
  the subject or the beneficiary of (whatever the pack's ``clawback:`` says: the ledger does);
- **clawback**, only for the causes the pack's ``clawback: on`` names, within its window,
  exactly as ``api/outcomes/late.py`` picks them: ``fraud_label`` / ``chargeback`` reach
  every reward the customer received (granted or released) and those its orders
  released for others; ``refund_released`` reaches the rewards the refunded order
  released for others (every such reward of the sender when the refund has no
  ``order_id``). ``linked_at_checkout``: a paid order whose device, phone or address the
  replay's lists hold because of another account (the runner asks engine/cases/links.py,
  as ``/v1/events`` does) voids the payer's pending holds *before* the order could release
  them and marks what the payer received and released, like a fraud label.
  ``denied_at_checkout``: a checkout (a scored ``order``) the rules deny voids the payer's
  pending holds, marks what it received and released within the window, and marks the
  payer and the order's wallet (``payment``) for the window, as ``/v1/score`` lists them
  (api/outcomes/late.py ``on_denied_checkout``): a later release outcome (a paid order, a
  store visit) of that payer, or one carrying that wallet, releases nothing and voids
  instead (a farm that pays the minimum and walks in keeps no trial its checkout gave away).
  ``self_filled_group``: a group-buy join the rules deny whose member is among the strong
  links of the join's referrer (the group's leader: the runner reads the member's
  ``{C}:lk:peers`` after the join is recorded, as api/outcomes/late.py does) voids the
  pending holds of the leader and of the member, marks what they received within the window
  and marks both for the window like a denied checkout's payer: the leader's walk-in (her
  own trial, sold on) releases nothing. A stranger's farm joining an honest leader's open
  group is not linked to her: her rewards stand.
  **A linked payer**: a held reward for someone else (a referrer's gift, a group-buy leader's
  reward on a member's join) is voided, not released, when the releasing customer is among
  the beneficiary's strong links (the runner reads the invitee's or the member's
  ``{C}:lk:peers`` from the replay store for its release outcome, as engine/offers/holds.py does).
  ``case_denied`` needs a reviewer: replay does not model it, so what it reports as kept
  is an upper bound.

What a clawback **recovers** depends on the reward: an unused coupon, discount, points
or trial is cancelled (:data:`RECOVERABLE`); a coupon or discount is used by the
beneficiary's next paid order after it became theirs, a trial by a store visit (the
session is the trial). A red packet is cash in a WeChat wallet the moment it is paid and
a gift (prints, stored value) is delivered: marked, never recovered.

A reward is **kept** when it ended granted or released and was not recovered; a hold
still pending at the end of the log is reported apart (``pending``), not as kept.
"""

from __future__ import annotations

import heapq
import itertools
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.cases.links import DENIED_AT_CHECKOUT, RELEASES, SELF_FILLED_GROUP, WALLET_FANOUT
from engine.datastore.keys import safe_id
from engine.events import Event, is_payment
from engine.model import ClawbackPolicy, EffectType, Offer
from engine.offers.periods import order_reference

#: Effects that are money out of the merchant's pocket; a trial is a price, points are points.
CASH_EFFECTS: frozenset[EffectType] = frozenset({EffectType.COUPON, EffectType.RED_PACKET, EffectType.GIFT})
#: Effects a farm takes for what they are worth to it; points and privileges are not its trade.
REWARD_EFFECTS: frozenset[EffectType] = CASH_EFFECTS | {EffectType.TRIAL, EffectType.DISCOUNT}
#: What a clawback can take back while it is unused; red packets and gifts are gone once paid out.
RECOVERABLE: frozenset[EffectType] = frozenset(
    {EffectType.COUPON, EffectType.DISCOUNT, EffectType.POINTS, EffectType.TRIAL}
)
#: Rewards an order uses up; a trial is used up by the session in the store.
SPENT_BY: dict[EffectType, str] = {
    EffectType.COUPON: "order_paid",
    EffectType.DISCOUNT: "order_paid",
    EffectType.TRIAL: "store_visit",
}
MEASURES = ("granted", "held", "released", "voided", "expired", "clawed_back", "recovered", "pending", "kept")


@dataclass(eq=False)
class Reward:
    """One reward (an offer granted on one event) and what has happened to it so far."""

    offer: Offer
    event_id: str
    family: str | None
    subject: str  # the event's customer (the invitee of a referral reward)
    beneficiary: str
    granted_at: float
    void_at: float | None  # None: granted outright
    state: str  # granted | held | released | voided | expired
    usable_at: float | None = None  # when it became the beneficiary's
    released_by: str = ""  # the order reference (or event id) of the outcome that released it
    earn_at: float | None = None  # a return window's end: released then unless refunded before
    clawback: str | None = None  # the first cause that marked it
    recovered: bool = False
    spent: bool = False

    @property
    def cash(self) -> float:
        return self.offer.effect.value if self.offer.effect.type in CASH_EFFECTS else 0.0

    @property
    def kept(self) -> bool:
        return self.state in ("granted", "released") and not self.recovered


GiveBack = Callable[[Offer, str], None]


@dataclass
class RewardBook:
    """Every reward of one rule set's replay, moved by the log's clock and outcomes."""

    policy: ClawbackPolicy
    give_back: GiveBack  # a voided or expired hold returns its unit (offer, beneficiary)
    rewards: list[Reward] = field(default_factory=list)
    _parties: dict[str, list[Reward]] = field(default_factory=dict)  # customer -> rewards it is party to
    _due: list[tuple[float, int, Reward]] = field(default_factory=list)
    _order: Iterator[int] = field(default_factory=itertools.count)  # ties in _due: first pushed first
    _denied: dict[str, float] = field(default_factory=dict)  # payer or wallet denied at checkout -> until
    _wallets: dict[str, dict[str, float]] = field(default_factory=dict)  # wallet -> its payers' last checkout

    def tick(self, epoch: float) -> None:
        """Expire every pending hold due by ``epoch``, as the worker's ``expire_holds`` would."""
        while self._due and self._due[0][0] <= epoch:
            _, _, reward = heapq.heappop(self._due)
            if reward.state != "held":
                continue
            if reward.earn_at is None:
                reward.state = "expired"
                self.give_back(reward.offer, reward.beneficiary)
            elif reward.earn_at <= epoch:  # the return window passed without a refund
                reward.state, reward.usable_at = "released", reward.earn_at

    def grant(self, offer: Offer, event: Event, family: str | None) -> None:
        """Record one grant within budget: outright, or held until its release outcome."""
        beneficiary = event.referrer if offer.beneficiary == "referrer" and event.referrer else event.customer
        held = offer.hold is not None
        void_at = event.epoch + offer.hold.seconds if offer.hold is not None else None
        reward = Reward(offer, event.event_id, family, event.customer, beneficiary, event.epoch, void_at,
                        "held" if held else "granted", None if held else event.epoch)  # fmt: skip
        self.rewards.append(reward)
        for party in {reward.subject, beneficiary}:
            self._parties.setdefault(party, []).append(reward)
        if void_at is not None:
            heapq.heappush(self._due, (void_at, next(self._order), reward))

    def outcome(self, event: Event, *, linked: bool = False, peers: frozenset[str] = frozenset()) -> None:
        """Apply one outcome: releases and uses, or voids and clawbacks, as the ledger and late evidence do."""
        self.tick(event.epoch)
        mine = self._parties.get(event.customer, [])
        if event.type in RELEASES and self._marked(event):
            self._void(mine)  # denied at checkout: no later outcome of the payer releases a hold
            self._spend(event, mine)
        elif linked and event.type == "order_paid" and "linked_at_checkout" in self.policy.on:
            self._void(mine)  # before the order can release anything (api/outcomes/late.py before_release)
            self._claw_against(event, "linked_at_checkout")
            self._spend(event, mine)
        elif event.type == "label" and event.label == "fraud":
            self._void(mine)
            self._claw_against(event, "fraud_label")
        elif event.type == "chargeback":
            self._void(mine)
            self._claw_against(event, "chargeback")
        elif event.type == "refund":
            self._void([r for r in mine if r.earn_at is not None and r.subject == event.customer])
            self._claw_released_by(event, "refund_released", order_reference(event))
        else:
            self._release(event, mine, peers)
            self._spend(event, mine)

    def denied_checkout(self, event: Event) -> None:
        """A checkout the rules denied (``denied_at_checkout``): void, claw back, mark payer and wallet."""
        if DENIED_AT_CHECKOUT not in self.policy.on or event.type != "order":
            return
        self.tick(event.epoch)
        until, since = event.epoch + self.policy.window_seconds, event.epoch - self.policy.window_seconds
        payers = {event.customer}
        if event.payment:
            self._denied[f"p:{event.payment}"] = until
            users = self._wallets.get(event.payment, {})
            payers |= {c for c, at in users.items() if at > since and len(users) <= WALLET_FANOUT}
        for payer in sorted(payers):  # the wallet's group: every account it paid for within the window
            self._denied[f"c:{payer}"] = until
            self._void(self._parties.get(payer, []))
            self._claw_against(event.model_copy(update={"customer": payer}), DENIED_AT_CHECKOUT)

    def self_filled(self, event: Event, peers: frozenset[str]) -> None:
        """A denied join whose member is linked to its leader (``self_filled_group``): void, claw back, mark both."""
        leader = event.referrer
        if SELF_FILLED_GROUP not in self.policy.on or event.type != "group_buy_join" or not leader:
            return
        if leader == event.customer or safe_id(leader) not in peers:
            return
        self.tick(event.epoch)
        until = event.epoch + self.policy.window_seconds
        for party in sorted({leader, event.customer}):
            self._denied[f"c:{party}"] = max(until, self._denied.get(f"c:{party}", 0.0))
            self._void(self._parties.get(party, []))
            self._claw_against(event.model_copy(update={"customer": party}), SELF_FILLED_GROUP)

    def checkout(self, event: Event) -> None:
        """Remember who paid from the checkout's wallet (the link store's payment identity, live)."""
        if event.type == "order" and event.payment and DENIED_AT_CHECKOUT in self.policy.on:
            self._wallets.setdefault(event.payment, {})[event.customer] = event.epoch
            if (until := self._denied.get(f"p:{event.payment}", 0.0)) > event.epoch:
                self._denied[f"c:{event.customer}"] = max(until, self._denied.get(f"c:{event.customer}", 0.0))

    def _marked(self, event: Event) -> bool:
        keys = (f"c:{event.customer}", f"p:{event.payment}" if event.payment else "")
        return any(self._denied.get(k, 0.0) > event.epoch for k in keys if k)

    def _release(self, event: Event, mine: list[Reward], peers: frozenset[str] = frozenset()) -> None:
        if event.type == "order_paid" and not is_payment(event):
            return  # a 0元 checkout releases nothing (engine/offers/holds.py outcome_action)
        for reward in mine:
            hold = reward.offer.hold
            if reward.state != "held" or reward.subject != event.customer or not hold or hold.release_on != event.type:
                continue
            if reward.earn_at is not None:
                continue  # its paid order already started the return window
            linked = reward.beneficiary != reward.subject and safe_id(reward.beneficiary) in peers
            if linked and reward.void_at is not None and event.epoch <= reward.void_at:
                reward.state = "voided"  # the payer is linked to the beneficiary (engine/offers/holds.py)
                self.give_back(reward.offer, reward.beneficiary)
                continue
            reward.released_by = order_reference(event) or event.event_id
            if hold.return_window_seconds:
                reward.earn_at = event.epoch + hold.return_window_seconds
                heapq.heappush(self._due, (reward.earn_at, next(self._order), reward))
            else:
                reward.state, reward.usable_at = "released", event.epoch

    @staticmethod
    def _spend(event: Event, mine: list[Reward]) -> None:
        """A paid order uses the coupons usable before it; a store visit uses the trial (also one it released)."""
        for reward in mine:
            usable, use = reward.usable_at, SPENT_BY.get(reward.offer.effect.type)
            if reward.spent or usable is None or reward.beneficiary != event.customer or use != event.type:
                continue
            reward.spent = usable < event.epoch or use == "store_visit"

    def _void(self, mine: list[Reward]) -> None:
        for reward in mine:
            if reward.state == "held":
                reward.state = "voided"
                self.give_back(reward.offer, reward.beneficiary)

    def _claw_against(self, event: Event, cause: str) -> None:
        """Every reward the customer received within the window, and those its orders released for others."""
        if cause not in self.policy.on:
            return
        since = event.epoch - self.policy.window_seconds
        for reward in self._parties.get(event.customer, []):
            received = reward.beneficiary == event.customer
            released_for_other = reward.subject == event.customer and reward.state == "released"
            if (received or released_for_other) and reward.usable_at is not None and reward.usable_at >= since:
                self._mark(reward, cause)

    def _claw_released_by(self, event: Event, cause: str, order: str) -> None:
        """The rewards the sender's refunded order released for someone else ('' = any of its orders)."""
        if cause not in self.policy.on:
            return
        since = event.epoch - self.policy.window_seconds
        for reward in self._parties.get(event.customer, []):
            if reward.state != "released" or reward.subject != event.customer or reward.beneficiary == event.customer:
                continue
            if (not order or reward.released_by == order) and (reward.usable_at or 0) >= since:
                self._mark(reward, cause)

    @staticmethod
    def _mark(reward: Reward, cause: str) -> None:
        if reward.clawback is None and reward.state in ("granted", "released"):
            reward.clawback = cause
            reward.recovered = reward.offer.effect.type in RECOVERABLE and not reward.spent

    # -- the report ----------------------------------------------------------------------

    def by_family(self) -> dict[str, dict[str, Any]]:
        """Per family: each measure as count and cash value, the kept rewards per offer, the hold delays."""
        out: dict[str, dict[str, Any]] = {}
        delays: dict[str, list[float]] = {}
        for reward in self.rewards:
            if reward.family is None or reward.offer.effect.type not in REWARD_EFFECTS:
                continue
            row = out.setdefault(reward.family, _empty())
            for measure in _measures(reward):
                row[measure]["count"] += 1
                row[measure]["value"] = round(row[measure]["value"] + reward.cash, 2)
            if reward.kept:
                row["kept_by_offer"][reward.offer.id] = row["kept_by_offer"].get(reward.offer.id, 0) + 1
                row["kept_trials"] += reward.offer.effect.type is EffectType.TRIAL
            if reward.state == "released" and reward.usable_at is not None:
                delays.setdefault(reward.family, []).append((reward.usable_at - reward.granted_at) / 3600)
        for family, hours in delays.items():
            out[family]["hold_delay_hours"] = _spread(hours)
        return out

    def delays(self, families: set[str]) -> dict[str, float] | None:
        """Median and p90 hours between grant and release over the released holds of ``families``."""
        hours = [
            (r.usable_at - r.granted_at) / 3600
            for r in self.rewards
            if r.family in families and r.state == "released" and r.usable_at is not None
            and r.offer.effect.type in REWARD_EFFECTS
        ]  # fmt: skip
        return _spread(hours) if hours else None


def _measures(reward: Reward) -> list[str]:
    held = reward.void_at is not None
    states = {"released": "released", "voided": "voided", "expired": "expired", "held": "pending"}
    out = ["granted"] + (["held"] if held else [])
    if reward.state in states:
        out.append(states[reward.state])
    if reward.clawback is not None:
        out.append("clawed_back")
    if reward.recovered:
        out.append("recovered")
    if reward.kept:
        out.append("kept")
    return out


def _empty() -> dict[str, Any]:
    row: dict[str, Any] = {m: {"count": 0, "value": 0.0} for m in MEASURES}
    return row | {"kept_by_offer": {}, "kept_trials": 0, "hold_delay_hours": None}


def _spread(hours: list[float]) -> dict[str, float]:
    """Median and 90th percentile of the delays a hold added, in hours."""
    ordered = sorted(hours)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return {"released": len(ordered), "median": round(statistics.median(ordered), 1), "p90": round(p90, 1)}
