"""Fill a budget of events with whole stories, honest and abusive, and order them in time.

Each abuse kind gets a share of the events, honest parents the rest (their first
events are the customer base's paid history from before the window). Stories are
added whole until a kind's budget is reached; the last story is cut short, which
only ever drops its *later* events. One seeded RNG drives everything, so a seed gives
the same log byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.simulate import honest
from engine.simulate.abuse import ABUSE_UNITS
from engine.simulate.context import Sim
from engine.simulate.timeline import Draft, render
from engine.simulate.units import FAKE_REFERRAL_BURST, FARMING_RING, MULTI_ACCOUNT_GROUP_BUY, RED_PACKET_BOT, Unit

DEFAULT_SHARES: Mapping[str, float] = {
    FARMING_RING: 0.05,
    FAKE_REFERRAL_BURST: 0.035,
    RED_PACKET_BOT: 0.025,
    MULTI_ACCOUNT_GROUP_BUY: 0.015,
}

#: Honest stories and how often each is told (per story, not per event).
HONEST_UNITS: tuple[tuple[Callable[[Sim], Unit], float], ...] = (
    (honest.newcomer, 40),
    (honest.referral_circle, 22),
    (honest.regular_visit, 20),
    (honest.group_buy, 8),
    (honest.red_packet_drop, 1.6),
    (honest.walk_in, 1.5),
)
BASE_CUSTOMERS_PER_EVENT = 1 / 30  # old customers (with a year of history) per event of the log


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    events: int = 100_000
    seed: int = 7
    start: date = date(2026, 11, 1)
    days: int = 14
    shares: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))


def simulate(config: SimulationConfig) -> Iterator[dict[str, Any]]:
    """Yield ``config.events`` log records (API event JSON plus ``truth``) in time order."""
    if config.events < 1 or config.days < 1:
        raise ValueError("a simulated log needs at least one event and one day")
    sim = Sim.create(config.seed, config.start, config.days)
    budgets = {kind: int(config.events * share) for kind, share in config.shares.items()}
    honest_budget = config.events - sum(budgets.values())
    drafts: list[Draft] = []
    base = honest.build_base(sim, max(2, int(config.events * BASE_CUSTOMERS_PER_EVENT)))
    _take(drafts, sim, [base], honest_budget)
    stories, weights = zip(*HONEST_UNITS, strict=True)
    _fill(drafts, sim, lambda: sim.rng.choices(stories, weights=weights)[0](sim), honest_budget)
    for kind, budget in budgets.items():
        make = ABUSE_UNITS[kind]
        _fill(drafts, sim, lambda make=make: make(sim), len(drafts) + budget)  # type: ignore[misc]
    drafts.sort(key=lambda d: (d.t, d.seq))
    for index, draft in enumerate(drafts):
        yield _record(draft, f"sim{config.seed}-{index:07d}")


def _fill(drafts: list[Draft], sim: Sim, make: Callable[[], Unit], until: int) -> None:
    while len(drafts) < until:
        _take(drafts, sim, [make()], until)


def _take(drafts: list[Draft], sim: Sim, units: list[Unit], until: int) -> None:
    for unit in units:
        kept = [d for d in unit.ordered() if d.t < sim.clock.end]
        drafts.extend(kept[: max(0, until - len(drafts))])


def _record(draft: Draft, event_id: str) -> dict[str, Any]:
    record: dict[str, Any] = {"event_id": event_id, "type": draft.fields["type"], "timestamp": render(draft.t)}
    record.update((k, v) for k, v in draft.fields.items() if k != "type")
    if draft.attributes:
        record["attributes"] = draft.attributes
    record["truth"] = draft.truth
    return record
