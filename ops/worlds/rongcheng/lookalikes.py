"""Honest look-alikes (``truth: honest``): real customers whose traffic looks like a farm's.

Each family is a ``Parents`` whose newcomers share what a farm shares (a tablet, a NAT, a
counter, a referrer, a segment, a second), and behave as customers: they buy and they come.
"""

from __future__ import annotations

from typing import Any

from ops.worlds.rongcheng.acts import Acts
from ops.worlds.rongcheng.city import Line
from ops.worlds.rongcheng.parents import DAY, Parents
from ops.worlds.rongcheng.store import Ctx, Person


def _parents(ctx: Ctx, params: dict[str, Any], family: str) -> Parents:
    return Parents(ctx, params["parents"], family)


def family_tablet(ctx: Ctx, params: dict[str, Any], budget: int) -> int:
    """A household's tablet: 2-4 accounts (mum, dad, grandma) on one home line and flat, each for a child."""
    rng, fam = ctx.rng, _parents(ctx, params, "family_tablet")
    while fam.acts.events < budget:
        tablet, home, flat = ctx.city.phone(tablet=True), ctx.city.home_line(), ctx.city.flat()
        wallet = ctx.city.wallet() if rng.random() < 0.3 else None
        day = rng.randrange(ctx.days)
        for _ in range(rng.choice([2, 2, 3, 4])):
            p = ctx.person(place=flat)
            p.phone, p.home, p.wallet = tablet, home, wallet
            t = ctx.at(min(ctx.days - 1, day + rng.choice([0, 0, 1, 2])), rng.uniform(19, 22.5))
            fam.newcomer(t, person=p, net="WIFI", buy_share=0.9)
    return fam.acts.events


def campus_lunch_wave(ctx: Ctx, params: dict[str, Any], budget: int) -> int:
    """A teacher shares the poster in her department's chat: 8-30 colleagues sign up on the campus NAT at lunch."""
    rng, fam = ctx.rng, _parents(ctx, params, "campus_lunch_wave")
    while fam.acts.events < budget:
        nat = ctx.city.campus_line() if rng.random() < 0.6 else ctx.city.fixed_line(ctx.city.ips["local"]["电信"])
        host = ctx.person()
        weekday = rng.choice([d for d in range(ctx.days) if (d % 7) not in (0, 1)] or [0])
        t0 = ctx.at(weekday, 12 + rng.random() * 0.3)
        fam.newcomer(t0 - 3600, person=host, line=nat, net="WIFI", buy_share=0.9)
        for _ in range(rng.randint(8, 30)):
            t = t0 + rng.uniform(0, 90) * 60
            via = host.id if rng.random() < 0.7 else None
            fam.newcomer(t, referrer=via, line=nat, net="WIFI", buy_share=0.6)
    return fam.acts.events


def counter_tablet(ctx: Ctx, params: dict[str, Any], budget: int) -> int:
    """Walk-ins signed up by staff on a branch's counter tablet on the branch Wi-Fi, paying and shooting at once."""
    rng, fam = ctx.rng, _parents(ctx, params, "counter_tablet")
    acts = fam.acts
    while acts.events < budget:
        branch = rng.choice(ctx.studio.branches)["id"]
        tablet, wifi = ctx.studio.tablets[branch], ctx.studio.wifi[branch]
        t = ctx.at(rng.randrange(ctx.days), rng.uniform(10, 19.5))
        p = ctx.person()
        p.phone, p.home = tablet, wifi
        acts.signup(t, p)
        if rng.random() < 0.8:
            acts.gift(t + rng.uniform(30, 180), p)
        acts.buy(t + rng.uniform(120, 600), p, 99.0, ship=False)
        acts.visit(t + rng.uniform(900, 2400), p, branch)
        if rng.random() < 0.3:
            acts.buy(t + rng.uniform(3000, 6000), p, 1500.0, ship=False)
    return acts.events


def popular_referrer(ctx: Ctx, params: dict[str, Any], budget: int) -> int:
    """A mum with a big circle: 12-40 friends over the week on their own phones, a tenth elsewhere, most buy."""
    rng, fam = ctx.rng, _parents(ctx, params, "popular_referrer")
    while fam.acts.events < budget:
        mum = ctx.person()
        ctx.log.created[mum.id] = ctx.at(0, 0) - rng.uniform(30, 300) * DAY
        mum.wallet = ctx.city.wallet()
        fam.acts._outcome(ctx.log.created[mum.id] + 5 * DAY, "order_paid", mum.id, amount=99.0, payment=mum.wallet)
        mum.paid = True
        for _ in range(rng.randint(12, 40)):
            t = ctx.at(rng.randrange(ctx.days), ctx.hour_of_parent())
            where = ctx.city.province() if rng.random() < 0.1 else "local"
            friend = ctx.person(where)
            fam.newcomer(t, referrer=mum.id, person=friend, buy_share=0.65)
    return fam.acts.events


def virtual_operator(ctx: Ctx, params: dict[str, Any], budget: int) -> int:
    """Ordinary parents whose number is on a virtual operator's segment (170/171/162/165/167)."""
    rng, fam = ctx.rng, _parents(ctx, params, "virtual_operator")
    while fam.acts.events < budget:
        p = ctx.person(number_where="virtual")
        group = rng.choice(ctx.studio.groups) if rng.random() < 0.3 else None
        fam.newcomer(ctx.at(rng.randrange(ctx.days), ctx.hour_of_parent()), person=p, group=group)
    return fam.acts.events


def grandparents_phone(ctx: Ctx, params: dict[str, Any], budget: int) -> int:
    """Grandma's old phone and Wi-Fi sign up two or three of her children's families, who buy and come."""
    rng, fam = ctx.rng, _parents(ctx, params, "grandparents_phone")
    while fam.acts.events < budget:
        phone, home = ctx.city.phone(platform="android"), ctx.city.home_line()
        day = rng.randrange(ctx.days)
        for k in range(rng.choice([2, 3, 3])):
            p = ctx.person()
            p.phone, p.home = phone, home
            fam.newcomer(
                ctx.at(day, rng.uniform(9, 17)) + k * rng.uniform(300, 3000), person=p, net="WIFI", buy_share=0.9
            )
    return fam.acts.events


def relatives_elsewhere(ctx: Ctx, params: dict[str, Any], budget: int) -> int:
    """Grandparents and aunts in other provinces buying a package or a top-up for a child in Chengdu."""
    rng, acts = ctx.rng, Acts(ctx, "relatives_elsewhere", "honest")
    while acts.events < budget:
        where = ctx.city.province() if rng.random() < 0.7 else "sichuan"
        p = ctx.person(where if where != "sichuan" else "local", number_where=where)
        if where != "sichuan":
            p.home = ctx.city.home_line(ctx.city.ip_province())
        child_home = ctx.city.flat()
        t = ctx.at(rng.randrange(ctx.days), ctx.hour_of_parent())
        acts.signup(t, p)
        acts.buy(
            t + rng.uniform(300, 7200),
            p,
            float(rng.choice([99, 1500, 1500, 5000])),
            address=child_home.typed(rng.randrange(9)),
        )
        acts.visit(t + rng.uniform(1, 6) * DAY, p, rng.choice(ctx.studio.branches)["id"])
    return acts.events


def partner_class(ctx: Ctx, params: dict[str, Any], budget: int) -> int:
    """异业: an early-education centre's class signs up on the centre's Wi-Fi with the partner code, in a burst."""
    rng, fam = ctx.rng, _parents(ctx, params, "partner_class")
    code = "TQ-HZ" + "".join(rng.choice("23456789ABCDEFGHJKMNPQRSTUVWXYZ") for _ in range(6))
    while fam.acts.events < budget:
        wifi = ctx.city.fixed_line(ctx.city.ips["local"][rng.choice(["电信", "联通", "移动"])])
        t0 = ctx.at(rng.randrange(ctx.days), rng.choice([10.5, 15.5, 17]))
        for _ in range(rng.randint(10, 25)):
            t = t0 + rng.uniform(0, 40) * 60
            p = ctx.person()
            fam.acts.signup(t, p, line=wifi)
            fam.acts.gift(t + rng.uniform(20, 300), p, code=code, line=wifi)
            if rng.random() < 0.6:
                paid = t + ctx.lognormal(86400, 1.0)
                fam.acts.buy(paid, p, 99.0)
                if rng.random() < 0.9:
                    fam.acts.visit(paid + rng.uniform(1, 8) * DAY, p, rng.choice(ctx.studio.branches)["id"])
    return fam.acts.events


def courier_locker(ctx: Ctx, params: dict[str, Any], budget: int) -> int:
    """Neighbours whose albums go to their compound's parcel point, each typing it her own way."""
    rng, fam = ctx.rng, _parents(ctx, params, "courier_locker")
    while fam.acts.events < budget:
        locker = ctx.city.locker()
        for _ in range(rng.randint(3, 9)):
            p = ctx.person(place=locker)
            fam.newcomer(ctx.at(rng.randrange(ctx.days), ctx.hour_of_parent()), person=p, buy_share=0.9)
    return fam.acts.events


def phone_changer(ctx: Ctx, params: dict[str, Any], members: list[Person], budget: int) -> int:
    """A customer's new phone mid-week (a new device for an old account), tapping and buying as before."""
    rng, acts = ctx.rng, Acts(ctx, "phone_changer", "honest")
    for m in rng.sample(members, min(len(members), max(1, budget // 4))):
        if acts.events >= budget:
            break
        t = ctx.at(rng.randrange(ctx.days), ctx.hour_of_parent())
        m.old_phone, m.phone, m.changed_at = m.phone, ctx.city.phone(), t
        acts.coupon(t, m, "winback", 50.0)
        acts.buy(t + rng.uniform(600, 86400), m, float(rng.choice([299, 680, 1500])))
        for drop in [d for d in ctx.studio.drops if d.group in m.groups and d.t > t][:2]:
            acts.tap(drop, m, ctx.lognormal(120, 1.2), ctx.lognormal(2400, 0.4))
    return acts.events


def travel_home(ctx: Ctx, params: dict[str, Any], members: list[Person], budget: int) -> Any:
    """春运: members who left for their home town before 春节 tap their groups' packets on another province's 4G."""
    rng, acts = ctx.rng, Acts(ctx, "travel_home", "honest")
    taken: set[tuple[str, str]] = set()
    for m in rng.sample(members, len(members)):
        if acts.events >= budget:
            break
        left = ctx.at(rng.randrange(ctx.days), 0)
        away: Line = ctx.city.mobile_line(ctx.city.ip_province())
        for drop in [d for d in ctx.studio.drops if d.group in m.groups and d.t > left]:
            if rng.random() < 0.6:
                acts.tap(drop, m, ctx.lognormal(200, 1.3), ctx.lognormal(2500, 0.45), line=away, net="4G")
                taken.add((drop.packet, m.id))
    return taken


def holiday_packet_evening(ctx: Ctx, params: dict[str, Any], members: list[Person]) -> set[tuple[str, str]]:
    """The rain's last night: 70% of the members of 3-6 groups tap within 1.5 s (``claim_ms`` ~0.8 s)."""
    rng, acts = ctx.rng, Acts(ctx, "holiday_packet_evening", "honest")
    night = ctx.studio.rain_nights[-1]
    groups = rng.sample(ctx.studio.groups, min(len(ctx.studio.groups), params["holiday"]["groups"]))
    taken: set[tuple[str, str]] = set()
    for drop in [
        d
        for d in ctx.studio.drops
        if d.campaign == "red_packet_rain" and d.group in groups and ctx.at(night, 0) <= d.t < ctx.at(night + 1, 0)
    ]:
        for m in [m for m in members if drop.group in m.groups]:
            if rng.random() < 0.7:
                net = rng.choice(["WIFI", "WIFI", "4G", "5G"])
                acts.tap(drop, m, rng.uniform(0.25, 1.5), ctx.lognormal(800, 0.35), net=net)
                taken.add((drop.packet, m.id))
    return taken
