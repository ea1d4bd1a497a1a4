"""Compose the world: the studio's groups and packets, each family's share, the log in time order.

Shares are drawn per seed: attack families together take about 10-14% of the events (a
family finishes the farm it started, so it may pass its share), honest look-alikes 9-12%,
ordinary parents the rest (with the history lines of every customer from before the
window). Each family's weight within its kind is drawn too, so no two seeds have the same
mix. The log is byte-identical for a seed: one ``random.Random`` seeded with the seed's
text drives everything, and lines are sorted stably by time.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ops.worlds.blind import city
from ops.worlds.blind.clock import CST, Clock
from ops.worlds.blind.farms_accounts import ACCOUNT_FARMS
from ops.worlds.blind.farms_money import MONEY_FARMS
from ops.worlds.blind.lookalikes import LOOKALIKES
from ops.worlds.blind.parents import parents
from ops.worlds.blind.story import Person, World

DEFAULT_START = datetime(2026, 12, 5, tzinfo=CST)  # a Saturday; 双十二 is the eighth evening
ATTACKS: dict[str, Callable[[World, int], None]] = {**ACCOUNT_FARMS, **MONEY_FARMS}
KEY_ORDER = (
    "event_id",
    "type",
    "timestamp",
    "customer",
    "device",
    "ip",
    "phone",
    "referrer",
    "group",
    "campaign",
    "coupon",
    "address",
    "payment",
    "amount",
    "attributes",
)


def studio_groups(w: World) -> None:
    """The studio's parents' groups, their codes, the weekly welfare packet and the nightly rain."""
    rng = w.rng
    staff = Person(
        id="staff-" + rng.choice(("zhangli", "wangfang", "liuyang")),
        family="studio_staff",
        truth="honest",
        device=city.device(rng),
        created=w.clock.start - timedelta(days=700),
    )
    for n in range(rng.randrange(10, 19)):
        group = f"wr{city.token(rng, 30, city.OPENID)}"
        w.groups.append(group)
        w.group_codes[group] = f"QUN{n + 1:02d}-{city.token(rng, 4, 'ABCDEFGHJKMNPQRSTUVWXYZ23456789')}"
        offset, hour = rng.randrange(7), rng.choice((10, 12, 15, 20.5, 21))
        for d in (offset, offset + 7):
            if d < w.clock.days:
                w.drops.append(
                    (w.clock.day(d) + timedelta(hours=hour, minutes=rng.randrange(0, 30)), group, "weekly_welfare", 5.0)
                )
    for d in range(w.clock.days):
        if w.clock.day(d).month in (12, 1):
            for group in w.groups:
                w.drops.append((w.clock.rain_opening(d), group, "red_packet_rain", 8.88))
    w.drops.sort()
    for at, group, campaign, _ in w.drops:
        w.emit(
            at - timedelta(seconds=1),
            "red_packet_sent",
            staff,
            group=group,
            campaign=campaign,
            attributes={"packet": f"rp-{city.token(rng, 8)}", "shares": rng.randrange(30, 120)},
        )


def _budgets(rng: random.Random, names: list[str], total: int) -> dict[str, int]:
    weights = {n: rng.uniform(0.6, 1.4) for n in names}
    scale = sum(weights.values())
    return {n: max(20, int(total * weights[n] / scale)) for n in names}


def generate(
    seed: int, events: int, days: int = 8, start: datetime = DEFAULT_START
) -> tuple[list[dict[str, Any]], World]:
    """The world's events in time order (each with ``family`` and ``truth``), and the world (params)."""
    rng = random.Random(f"yutang-blind-world-{seed}")
    w = World(rng=rng, clock=Clock(start, days))
    w.exits = city.hangzhou_exits(rng)
    w.store_ip = city.fixed_ip(rng)
    studio_groups(w)
    attack = _budgets(rng, list(ATTACKS), int(events * rng.uniform(0.08, 0.115)))
    honest = _budgets(rng, list(LOOKALIKES), int(events * rng.uniform(0.08, 0.105)))
    w.params["shares"] = {"attack": attack, "lookalike": honest}
    for name, make in LOOKALIKES.items():
        make(w, honest[name])
    for name, make in ATTACKS.items():
        make(w, attack[name])
    parents(w, max(0, events - len(w.events)))
    w.truncate(events)
    return finalize(w, seed), w


def finalize(w: World, seed: int) -> list[dict[str, Any]]:
    ordered = sorted(w.events, key=lambda e: e["_t"])
    out = []
    for i, e in enumerate(ordered):
        e = dict(e)
        e["event_id"] = f"bw{seed}-{i:06d}"
        e["timestamp"] = e.pop("_t").isoformat(timespec="milliseconds")
        line = {k: e[k] for k in KEY_ORDER if k in e}
        line["family"], line["truth"] = e["family"], e["truth"]
        out.append(line)
    return out


def dumps(line: dict[str, Any]) -> str:
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))
