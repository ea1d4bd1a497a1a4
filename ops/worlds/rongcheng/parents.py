"""Honest parents (``family: parents``): the customers from before and the newcomers of the week.

- **History**: each customer from before the window joined one of the branch's groups weeks or
  months ago (``member_joined``) and has paid orders dated before the start: the 99 trial only,
  often the 1,500 package, a tenth a 5,000 / 8,000 / 10,000 top-up.
- **In the window**: members tap their group's packets with a thumb (``claim_ms`` ~2.4 s median,
  seconds to an hour after the drop, 4G or home Wi-Fi), come for sessions, top up at the counter,
  take the win-back coupon after half a year away, share the poster with a friend or two (75% of
  whom buy) and open 3-person group-buys with friends.
- **Newcomers**: sign up (from the poster, a friend's referral, a group's code), claim the
  newcomer gift (60%), pay the 99 trial (58%), come for the session one to nine days later (90%
  of buyers), a quarter upgrading to the 1,500 package there; 3% refund the trial.
"""

from __future__ import annotations

from typing import Any

from ops.worlds.rongcheng.acts import Acts
from ops.worlds.rongcheng.store import Ctx, Group, Person

DAY = 86400.0


class Parents:
    """The ordinary customers; also the helpers the look-alikes reuse for a newcomer's life."""

    def __init__(self, ctx: Ctx, params: dict[str, Any], family: str = "parents") -> None:
        self.ctx, self.p = ctx, params
        self.acts = Acts(ctx, family, "honest")
        self.members: list[Person] = []
        self.joined_at: dict[str, float] = {}  # newcomers who joined a group in the window

    # -- before the window ---------------------------------------------------------
    def history(self, count: int) -> None:
        ctx, rng = self.ctx, self.ctx.rng
        start = ctx.at(0, 0)
        groups = ctx.studio.groups
        for _ in range(count):
            p = ctx.person(number_where=self._number_where())
            created = start - rng.uniform(20, 540) * DAY
            ctx.log.created[p.id] = created
            group = rng.choices(groups, weights=[g.size for g in groups])[0]
            self.acts.join_group(created + rng.uniform(0, 5) * DAY, p, group)
            p.wallet = ctx.city.wallet()
            last = created + rng.uniform(1, 12) * DAY
            self.acts._outcome(min(last, start - 3600), "order_paid", p.id, amount=99.0, payment=p.wallet)
            roll = rng.random()
            if roll < 0.45:
                last = min(start - 3600, last + rng.uniform(3, 40) * DAY)
                self.acts._outcome(last, "order_paid", p.id, amount=1500.0, payment=p.wallet)
            if roll < 0.1:
                last = min(start - 1800, last + rng.uniform(1, 90) * DAY)
                self.acts._outcome(
                    last, "order_paid", p.id, amount=float(rng.choice([5000, 8000, 10000])), payment=p.wallet
                )
            p.paid = True
            self.members.append(p)

    def _number_where(self) -> str:
        roll = self.ctx.rng.random()
        if roll < self.p["hometown_share"]:
            return "sichuan"
        if roll < self.p["hometown_share"] + self.p["other_province_share"]:
            return self.ctx.city.province()
        return "local"

    # -- members in the window -----------------------------------------------------
    def taps(self, members: list[Person] | None = None, skip: set[tuple[str, str]] | None = None) -> None:
        """Members tapping their groups' packets, each at a thumb's pace."""
        ctx, rng = self.ctx, self.ctx.rng
        by_group: dict[str, list[Person]] = {}
        for m in members if members is not None else self.members:
            for g in m.groups:
                by_group.setdefault(g.id, []).append(m)
        for drop in ctx.studio.drops:
            share = self.p["rain_tap_share"] if drop.campaign == "red_packet_rain" else self.p["welfare_tap_share"]
            for m in by_group.get(drop.group.id, []):
                if drop.t < self.joined_at.get(m.id, 0.0) or (drop.packet, m.id) in (skip or set()):
                    continue
                if rng.random() > share:
                    continue
                delay = ctx.lognormal(self.p["tap_delay_s"], 1.3)
                if drop.campaign == "red_packet_rain":
                    delay = min(delay, 3500.0)
                net = "WIFI" if rng.random() < 0.6 else rng.choice(["4G", "5G"])
                self.acts.tap(drop, m, delay, ctx.lognormal(2400, 0.45), net=net)

    def member_life(self) -> None:
        """Sessions, top-ups, win-back coupons, friends brought and group-buys of the old customers."""
        ctx, rng = self.ctx, self.ctx.rng
        for m in self.members:
            if rng.random() < 0.08:
                day = rng.randrange(ctx.days)
                t = ctx.at(day, rng.uniform(10, 18))
                branch = rng.choice(ctx.studio.branches)["id"]
                self.acts.visit(t, m, branch)
                if rng.random() < 0.35:
                    amount = float(rng.choice([5000, 8000, 10000, 1500, 299, 680]))
                    self.acts.buy(t + 900, m, amount, line=ctx.studio.wifi[branch], ship=False)
            if rng.random() < 0.04:
                t = ctx.at(rng.randrange(ctx.days), ctx.hour_of_parent())
                self.acts.coupon(t, m, "winback", 50.0, net=rng.choice(["WIFI", "4G"]))
            if rng.random() < self.p["share_poster"]:
                for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
                    t = ctx.at(rng.randrange(ctx.days), ctx.hour_of_parent())
                    self.newcomer(t, referrer=m.id)
            if rng.random() < self.p["groupbuy_share"]:
                self.friends_groupbuy(m)

    def friends_groupbuy(self, leader: Person | None) -> None:
        """Three friends (or a member and two new friends) buying the 69 group-buy, each on her own phone."""
        ctx, rng = self.ctx, self.ctx.rng
        gb = ctx.city.groupbuy()
        t = ctx.at(rng.randrange(ctx.days), ctx.hour_of_parent())
        people = ([leader] if leader else []) + [ctx.person() for _ in range(3 - (1 if leader else 0))]
        for p in people:
            if not p.paid and p.id not in ctx.log.created:
                self.acts.signup(t - rng.uniform(60, 600), p, net=rng.choice(["WIFI", "4G"]))
            self.acts.groupbuy(
                t, p, gb, net=rng.choice(["WIFI", "4G"]), address=p.place.typed(p.style) if p.place else None
            )
            if not p.paid:
                self.acts.buy(t + rng.uniform(30, 300), p, 69.0, ship=False)
                if rng.random() < 0.85:
                    self.acts.visit(t + rng.uniform(1, 10) * DAY, p, rng.choice(ctx.studio.branches)["id"])
            t += ctx.lognormal(600, 1.0)

    # -- newcomers -----------------------------------------------------------------
    def newcomer(
        self,
        t: float,
        *,
        referrer: str | None = None,
        group: Group | None = None,
        person: Person | None = None,
        net: str | None = None,
        buy_share: float = 0.58,
        line: Any = None,
    ) -> Person:
        """A new parent's week: sign-up, the gift, the trial, the session, perhaps the package."""
        ctx, rng, acts = self.ctx, self.ctx.rng, self.acts
        p = person or ctx.person(number_where=self._number_where())
        net = net or ("WIFI" if rng.random() < 0.7 else "4G")
        acts.signup(t, p, referrer=referrer, net=net, line=line)
        if group is not None:
            joined = t + rng.uniform(60, 3600)
            acts.join_group(joined, p, group, referrer=referrer)
            self.joined_at[p.id] = joined
            self.members.append(p)
        if rng.random() < 0.6:
            code = group.code if group is not None and rng.random() < 0.7 else None
            gift_net = net if rng.random() > self.p["claim_on_4g"] else "4G"
            acts.gift(
                t + ctx.lognormal(240, 1.2),
                p,
                code=code,
                group=group if code else None,
                net=gift_net,
                line=line if gift_net == net else None,
            )
        if rng.random() < buy_share:
            paid_at = t + ctx.lognormal(3 * 3600, 1.5)
            acts.buy(paid_at, p, 99.0, net=rng.choice(["WIFI", "4G"]))
            if rng.random() < 0.03:
                acts.refund(paid_at + rng.uniform(2, 48) * 3600, p, 99.0)
            elif rng.random() < 0.9:
                visit = paid_at + rng.uniform(1, 9) * DAY
                branch = rng.choice(ctx.studio.branches)["id"]
                acts.visit(visit, p, branch)
                if rng.random() < 0.25:
                    acts.buy(visit + 3600, p, 1500.0, line=ctx.studio.wifi[branch], ship=False)
        return p

    def newcomers_until(self, budget: int) -> None:
        """Newcomers from the poster, the ads and the groups until the parents' share of the log is full."""
        ctx, rng = self.ctx, self.ctx.rng
        while self.acts.events < budget:
            t = ctx.at(rng.randrange(ctx.days), ctx.hour_of_parent())
            group = rng.choice(ctx.studio.groups) if rng.random() < 0.35 else None
            referrer = rng.choice(self.members).id if self.members and rng.random() < 0.2 else None
            self.newcomer(t, referrer=referrer, group=group)
