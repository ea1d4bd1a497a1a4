"""The studio: its branches, their WeChat groups, the staff's red packets and the customers from before.

童趣坊儿童摄影 has two or three branches in Chengdu (玉林 in 武侯区, 天府三街 in 高新区, 光华大道 in
温江区). Each branch's staff run 3-6 parents' groups with their own habits: a group's size, the
hour of its weekly welfare packet (`weekly_welfare`, 5 yuan, 09:00-21:00 as the campaign says),
and on the rain nights the year-end red-packet rain (`red_packet_rain`, 8.88) in two or three
drops between 20:00 and 21:00. Every group hands its members a welfare code that unlocks the
newcomer gift for a friend they bring (`TQ-YL3-7KQ2`). The week is the first of the winter
school holiday, Saturday 2027-01-23 to Sunday 01-31, the rain's last night.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ops.worlds.rongcheng.city import PLACES, City, Line, Phone, Place
from ops.worlds.rongcheng.log import BEIJING, Log, moment

START = datetime(2027, 1, 23, tzinfo=BEIJING)
_CODE = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@dataclass
class Group:
    id: str
    branch: str
    code: str
    welfare_day: int  # day index of the weekly packet
    welfare_hour: float
    members: list[str] = field(default_factory=list)
    size: int = 50  # the size the staff let it grow to: how many of the customers from before are in it


@dataclass
class Drop:
    """One red packet a staff member sent into a group: when it opens, its campaign, value and shares."""

    t: float
    group: Group
    campaign: str
    amount: float
    packet: str
    shares: int


@dataclass
class Person:
    """One account and what it reaches the app with."""

    id: str
    phone: Phone
    home: Line
    mobile: Line
    number: str | None = None
    email: str | None = None
    place: Place | None = None
    wallet: str | None = None
    style: int = 0  # how this person types an address
    groups: list[Group] = field(default_factory=list)
    paid: bool = False
    old_phone: Phone | None = None  # the handset before a change of phone at ``changed_at``
    changed_at: float = 0.0


@dataclass
class Ctx:
    """What every story draws on: the seed's rng, the city's makers, the log and the studio."""

    rng: random.Random
    city: City
    log: Log
    studio: Studio
    days: int

    def day(self, index: int) -> datetime:
        return START + timedelta(days=index)

    def at(self, day: int, hour: float) -> float:
        return moment(self.day(day), hour)

    @property
    def end(self) -> float:
        return self.at(self.days, 0)

    def person(
        self,
        where: str = "local",
        *,
        number_where: str | None = None,
        email_share: float = 0.35,
        place: Place | None = None,
    ) -> Person:
        c = self.city
        p = Person(
            c.customer(),
            c.phone(),
            c.home_line(where),
            c.mobile_line(where),
            c.number(number_where or where),
            c.email() if self.rng.random() < email_share else None,
        )
        p.place = place or (c.flat() if where == "local" else None)
        p.style = self.rng.randrange(9)
        return p

    def lognormal(self, median: float, sigma: float) -> float:
        """A delay around ``median``, its tails bounded at three sigmas (no payment five weeks after a sign-up)."""
        return median * math.exp(max(-3.0, min(3.0, self.rng.gauss(0, 1))) * sigma)

    def hour_of_parent(self) -> float:
        """When a parent uses the app: mornings, lunch, and most in the evening."""
        h = self.rng.choices(
            [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23],
            weights=[2, 4, 5, 5, 8, 7, 4, 4, 4, 5, 6, 8, 11, 12, 8, 3],
        )[0]
        return h + self.rng.random()


class Studio:
    """Branches, groups and their packets for one seed."""

    def __init__(self, rng: random.Random, days: int, params: dict[str, Any]) -> None:
        branches = PLACES["studio"]["branches"][: params["branches"]]
        self.branches = branches
        self.groups: list[Group] = []
        for b in branches:
            for n in range(rng.randint(*params["groups_per_branch"])):
                code = f"TQ-{b['id'][:2].upper()}{n + 1}-" + "".join(rng.choice(_CODE) for _ in range(4))
                self.groups.append(
                    Group(
                        f"{b['id']}-{n + 1:02d}",
                        b["id"],
                        code,
                        rng.randrange(min(days, 7)),
                        rng.choice(params["welfare_hours"]) + rng.random() * 0.1,
                        size=rng.randint(*params["group_size"]),
                    )
                )
        self.group_size: tuple[int, int] = params["group_size"]
        self.rain_nights: list[int] = params["rain_nights"]
        self.drops: list[Drop] = []
        self.wifi: dict[str, Line] = {}
        self.tablets: dict[str, Phone] = {}

    def schedule(self, ctx: Ctx, params: dict[str, Any]) -> None:
        """The staff's packets for the window, each announced by a ``red_packet_sent`` outcome."""
        rng = ctx.rng
        for g in self.groups:
            shares = max(10, len(g.members) // 2)
            for day in range(g.welfare_day, ctx.days, 7):
                self._send(ctx, ctx.at(day, g.welfare_hour), g, "weekly_welfare", 5.0, shares)
            for night in self.rain_nights:
                for k in range(params["rain_drops"]):
                    opens = ctx.at(night, 20 + k * params["rain_gap_min"] / 60)
                    self._send(ctx, opens, g, "red_packet_rain", 8.88, max(20, int(len(g.members) * 0.6)))
        self.drops.sort(key=lambda d: (d.t, d.group.id))
        for b in self.branches:
            self.wifi[b["id"]] = ctx.city.fixed_line(ctx.city.ips["local"][rng.choice(["电信", "联通"])])
            self.tablets[b["id"]] = ctx.city.phone(tablet=True)

    def _send(self, ctx: Ctx, opens: float, group: Group, campaign: str, amount: float, shares: int) -> None:
        drop = Drop(opens, group, campaign, amount, ctx.city.packet(), shares)
        self.drops.append(drop)
        staff = f"staff-{group.branch}-{ctx.rng.randint(1, 3)}"
        ctx.log.add(
            opens - 1.0,
            "studio_staff",
            "honest",
            "red_packet_sent",
            staff,
            group=group.id,
            campaign=campaign,
            amount=amount,
            attributes={"packet": drop.packet, "shares": shares},
        )

    def drops_of(self, group: Group) -> list[Drop]:
        return [d for d in self.drops if d.group is group]

    def branch_place(self, branch: str) -> Place:
        b = next(x for x in self.branches if x["id"] == branch)
        return Place(b["district"], b["road"], b["number"], "童趣坊" + b["label"])
