"""Fill a budget of events with whole stories, honest and abusive, and order them in time.

Each attack family and each honest look-alike family gets a share of the events,
honest parents the rest (their first events are the customer base's paid history from
before the window). Stories are
added whole until a kind's budget is reached; the last story is cut short, which
only ever drops its *later* events. One seeded RNG drives everything, so a seed gives
the same log byte for byte.

Every record carries ``truth`` (``honest`` or the attack family) and ``family`` (the
attack family, or which honest look-alike: ``parents``, ``family_tablet``...). A
wallet's ``pay_account_customers`` is what the payment provider would say: the
accounts seen paying with it so far. ``payment`` itself (the wallet fingerprint) is
written only with ``payment=True`` (``--payment``), for event models that accept it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.simulate import groupbuy_farms, honest, rented_devices
from engine.simulate.abuse import ABUSE_UNITS
from engine.simulate.branches import BRANCH_LOOKALIKES, BRANCH_UNITS
from engine.simulate.context import Sim
from engine.simulate.lookalikes import LOOKALIKE_UNITS
from engine.simulate.timeline import Draft, render
from engine.simulate.units import (
    AGED_CASHOUT,
    BRANCH_STACKING,
    CAMPAIGN_SCRIPT,
    CODE_RESALE,
    COUNTER_TABLET,
    FAKE_REFERRAL_BURST,
    FAMILY_TABLET,
    FARMING_RING,
    HOLIDAY_RUSH,
    MULTI_ACCOUNT_GROUP_BUY,
    OFFICE_LUNCH,
    PAY_RELEASE_REFUND,
    POPULAR_REFERRER,
    RED_PACKET_BOT,
    REFERRAL_TREE,
    SHARED_BACKEND,
    SLOW_DRIP,
    TWO_BRANCH_FAMILY,
    VIRTUAL_NUMBERS,
    Unit,
)
from engine.simulate.waves import WAVE_SHARES, WAVE_UNITS, WIDE_SHARES, WIDE_UNITS
from engine.simulate.world import PAY_ACCOUNT_CUSTOMERS, USER_AGENT

#: Attack families and their shares of the log's events (18.3% in all).
DEFAULT_SHARES: Mapping[str, float] = {
    FARMING_RING: 0.03,
    FAKE_REFERRAL_BURST: 0.025,
    RED_PACKET_BOT: 0.02,
    MULTI_ACCOUNT_GROUP_BUY: 0.012,
    SHARED_BACKEND: 0.015,
    SLOW_DRIP: 0.01,
    AGED_CASHOUT: 0.015,
    CAMPAIGN_SCRIPT: 0.013,
    CODE_RESALE: 0.01,
    REFERRAL_TREE: 0.015,
    PAY_RELEASE_REFUND: 0.01,
    **rented_devices.SHARES,
    BRANCH_STACKING: 0.008,
}
#: Honest look-alike families and their shares (the ordinary parents take the rest).
LOOKALIKE_SHARES: Mapping[str, float] = {
    COUNTER_TABLET: 0.012,
    FAMILY_TABLET: 0.015,
    OFFICE_LUNCH: 0.015,
    POPULAR_REFERRER: 0.015,
    VIRTUAL_NUMBERS: 0.01,
    HOLIDAY_RUSH: 0.015,
    **rented_devices.LOOKALIKE_SHARES,
    **WAVE_SHARES,  # campus lunch wave, partner class, grandparents on a grandchild's phone
    TWO_BRANCH_FAMILY: 0.01,
}

#: Families told after all the others, their events taken from the parents' last stories, so that
#: adding one re-tells no other family's stories (the same seed keeps every other family's log).
LATE_FAMILIES: frozenset[str] = frozenset({BRANCH_STACKING, TWO_BRANCH_FAMILY})

#: Honest stories and how often each is told (per story, not per event).
HONEST_UNITS: tuple[tuple[Callable[[Sim], Unit], float], ...] = (
    (honest.newcomer, 40),
    (honest.referral_circle, 22),
    (honest.regular_visit, 20),
    (honest.group_buy, 8),
    (honest.red_packet_drop, 1.6),
)
BASE_CUSTOMERS_PER_EVENT = 1 / 30  # old customers (with a year of history) per event of the log


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    events: int = 100_000
    seed: int = 7
    start: date = date(2026, 11, 1)
    days: int = 14
    shares: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))
    lookalikes: Mapping[str, float] = field(default_factory=lambda: dict(LOOKALIKE_SHARES))
    payment: bool = True  # write the ``payment`` identity (wallet / card fingerprint) on orders
    # opt-in families (``--family-set NAME``): each set's attack and look-alike shares join the defaults
    family_sets: tuple[str, ...] = ()

    def all_shares(self) -> tuple[dict[str, float], dict[str, float]]:
        """The attack and look-alike shares with the opted-in sets' added."""
        shares, lookalikes = dict(self.shares), dict(self.lookalikes)
        for name in self.family_sets:
            attack, honest = FAMILY_SETS[name]
            shares.update(attack)
            lookalikes.update(honest)
        return shares, lookalikes


#: Families outside the default mix (adding them to it re-draws every seed's log): name -> shares.
FAMILY_SETS: dict[str, tuple[Mapping[str, float], Mapping[str, float]]] = {
    "groupbuys": (groupbuy_farms.ABUSE_SHARES, groupbuy_farms.LOOKALIKE_SHARES),
    # the harder variant (session 14): per-seed group size, phones, pauses, named leader; neighbours' groups
    "groupbuys_varied": (
        {**groupbuy_farms.ABUSE_SHARES, **groupbuy_farms.VARIED_ABUSE_SHARES},
        {**groupbuy_farms.LOOKALIKE_SHARES, **groupbuy_farms.VARIED_LOOKALIKE_SHARES},
    ),
    "lookalikes": ({}, WIDE_SHARES),  # a wider campus wave (waves.campus_wave_wide)
}


def simulate(config: SimulationConfig, sim: Sim | None = None) -> Iterator[dict[str, Any]]:
    """Yield ``config.events`` log records (API event JSON plus ``truth`` and ``family``) in time order."""
    if config.events < 1 or config.days < 1:
        raise ValueError("a simulated log needs at least one event and one day")
    sim = sim or Sim.create(config.seed, config.start, config.days)
    shares, lookalike_shares = config.all_shares()
    budgets = {kind: int(config.events * share) for kind, share in shares.items()}
    lookalikes = {kind: int(config.events * share) for kind, share in lookalike_shares.items()}
    kinds = [*lookalikes.items(), *budgets.items()]
    late = sum(budget for kind, budget in kinds if kind in LATE_FAMILIES)
    parents_budget = config.events - sum(budgets.values()) - sum(lookalikes.values()) + late
    drafts: list[Draft] = []
    base = honest.build_base(sim, max(2, int(config.events * BASE_CUSTOMERS_PER_EVENT)))
    _take(drafts, sim, [base], parents_budget)
    stories, weights = zip(*HONEST_UNITS, strict=True)
    _fill(drafts, sim, lambda: sim.rng.choices(stories, weights=weights)[0](sim), parents_budget)
    parents_end = len(drafts)
    makers = {
        **LOOKALIKE_UNITS,
        **WAVE_UNITS,
        **WIDE_UNITS,
        **ABUSE_UNITS,
        **rented_devices.UNITS,
        **groupbuy_farms.LOOKALIKE_UNITS,
        **groupbuy_farms.ABUSE_UNITS,
        **groupbuy_farms.VARIED_LOOKALIKE_UNITS,
        **groupbuy_farms.VARIED_ABUSE_UNITS,
        **BRANCH_LOOKALIKES,
        **BRANCH_UNITS,
    }
    ordered = [k for k in kinds if k[0] not in LATE_FAMILIES] + [k for k in kinds if k[0] in LATE_FAMILIES]
    for kind, budget in ordered:
        make = makers[kind]
        _fill(drafts, sim, lambda make=make: make(sim), len(drafts) + budget)  # type: ignore[misc]
    del drafts[max(0, parents_end - late) : parents_end]  # the late families' events: the parents' last stories
    drafts.sort(key=lambda d: (d.t, d.seq))
    _wallet_counts(drafts)
    for index, draft in enumerate(drafts):
        yield _record(draft, f"sim{config.seed}-{index:07d}", payment=config.payment)


def _wallet_counts(drafts: list[Draft]) -> None:
    """Each order's ``pay_account_customers``: the accounts seen on its wallet so far (the provider's count)."""
    seen: dict[str, set[str]] = {}
    for draft in drafts:
        wallet = draft.fields.get("payment")
        if wallet is None:
            continue
        accounts = seen.setdefault(wallet, set())
        accounts.add(draft.fields["customer"])
        draft.attributes[PAY_ACCOUNT_CUSTOMERS] = max(
            int(draft.attributes.get(PAY_ACCOUNT_CUSTOMERS, 1)), len(accounts)
        )


def _fill(drafts: list[Draft], sim: Sim, make: Callable[[], Unit], until: int) -> None:
    while len(drafts) < until:
        _take(drafts, sim, [make()], until)


def _take(drafts: list[Draft], sim: Sim, units: list[Unit], until: int) -> None:
    for unit in units:
        kept = [d for d in unit.ordered() if d.t < sim.clock.end]
        drafts.extend(kept[: max(0, until - len(drafts))])


def _record(draft: Draft, event_id: str, *, payment: bool) -> dict[str, Any]:
    record: dict[str, Any] = {"event_id": event_id, "type": draft.fields["type"], "timestamp": render(draft.t)}
    record.update((k, v) for k, v in draft.fields.items() if k != "type" and (payment or k != "payment"))
    if draft.attributes:
        record["attributes"] = draft.attributes
        if USER_AGENT in draft.attributes:  # the SDK's user agent names the phone's model
            draft.attributes[USER_AGENT] = rented_devices.parent_user_agent(
                str(draft.attributes[USER_AGENT]), draft.fields.get("device")
            )
    record["family"] = draft.family
    record["truth"] = draft.truth
    return record
