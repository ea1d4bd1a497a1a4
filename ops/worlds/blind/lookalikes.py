"""Honest families that share what farms share: a device, a network, an address, a moment.

Each is a story a studio in Hangzhou really has: a household on one tablet where each
parent pays for their own child, colleagues signing up on the office NAT at lunch, the
counter tablet, the mum whose friends all come, customers on virtual-operator numbers,
the holiday evening when every member taps the packet within a second, grandparents'
phone, a kindergarten class joining a group at pick-up time, a parent changing phones,
neighbours whose albums go to one parcel locker, shoppers on the mall's Wi-Fi, relatives
in other provinces buying for a grandchild. Each buys and comes to the studio the way
parents do; what they share is the only thing they have in common with a farm.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from ops.worlds.blind import city
from ops.worlds.blind.clock import human_delay, later
from ops.worlds.blind.parents import base_customer, member_week, newcomer, newcomer_path, studio_session
from ops.worlds.blind.story import World, claim_coupon, claim_packet, join, join_group, order, reaction_ms


def _until(w: World, family: str, budget: int, unit: Callable[[], None]) -> None:
    start = w.count(family)
    while w.count(family) - start < budget:
        unit()


def family_tablet(w: World, budget: int) -> None:
    """A household's tablet: mum, dad, sometimes grandma or an aunt, each an account, each paying for a child."""
    rng = w.rng
    w.params["family_tablet"] = {"accounts": "2-4", "own_wallets": 0.7}

    def household() -> None:
        tablet = city.device(rng, tablet=True)
        home = city.home_ip(rng)
        flat = city.place(rng)
        shared_wallet = city.wallet(rng) if rng.random() < 0.3 else None
        day = w.clock.pick_day(rng)
        t = w.clock.at(rng, day)
        for i in range(rng.choice((2, 2, 3, 3, 4))):
            p = newcomer(w, "family_tablet", t, device=tablet, home=home, wallet=shared_wallet or city.wallet(rng))
            p.mobile_share = 0.05
            p.address = city.address(flat, rng.choice(city.STYLES))
            newcomer_path(w, p, t, pay=0.8, come=0.95, gift=0.5)
            t = t + (human_delay(rng, 600) if i == 0 or rng.random() < 0.6 else timedelta(days=rng.uniform(0.5, 3)))

    _until(w, "family_tablet", budget, household)


def office_lunch_wave(w: World, budget: int) -> None:
    """One colleague shares the poster in the office group; a dozen sign up on the company NAT at lunch."""
    rng = w.rng
    w.params["office_lunch_wave"] = {"colleagues": "8-30", "window": "12:00-13:30"}

    def office() -> None:
        nat = city.fixed_ip(rng)
        sharer = base_customer(w, "office_lunch_wave")
        day = w.clock.pick_day(rng, weekend_weight=0.0)
        t0 = w.clock.day(day) + timedelta(hours=12, minutes=rng.uniform(0, 25))
        for _ in range(rng.randrange(8, 31)):
            t = t0 + timedelta(seconds=rng.expovariate(1 / 1200))
            p = newcomer(w, "office_lunch_wave", t, home=nat)
            p.mobile_share = 0.25
            newcomer_path(w, p, t, referrer=sharer.id if rng.random() < 0.8 else None, pay=0.45)

    _until(w, "office_lunch_wave", budget, office)


def counter_tablet(w: World, budget: int) -> None:
    """Walk-ins signed up on the studio's counter tablet (not registered with yutang), paying at the counter."""
    rng = w.rng
    tablets = [city.device(rng, tablet=True) for _ in range(rng.choice((1, 2)))]
    w.params["counter_tablet"] = {"tablets": len(tablets)}
    day = [0]

    def walk_in() -> None:
        d = day[0] % w.clock.days
        day[0] += 1
        for _ in range(rng.randrange(6, 22) * (2 if w.clock.weekend(d) else 1)):
            t = w.clock.studio_moment(rng, d)
            p = newcomer(w, "counter_tablet", t, device=rng.choice(tablets), home=w.store_ip)
            p.mobile_share = 0.0
            join(w, p, t)
            if rng.random() < 0.5:
                claim_coupon(w, p, later(t, rng, 30, 240), "newcomer_gift", 30)
            if rng.random() < 0.85:
                order(w, p, later(t, rng, 120, 900), 99, campaign="trial_99")
                studio_session(w, p, later(t, rng, 1200, 3000), upsell=0.12)

    _until(w, "counter_tablet", budget, walk_in)


def popular_referrer(w: World, budget: int) -> None:
    """A mum with a big circle: friends and relatives across the city join over the week, most of them buy."""
    rng = w.rng
    w.params["popular_referrer"] = {"friends": "12-40", "pay": "0.5-0.75"}

    def mum() -> None:
        m = base_customer(w, "popular_referrer", groups=2)
        member_week(w, m)
        pay = rng.uniform(0.5, 0.75)
        for _ in range(rng.randrange(12, 41)):
            t = w.clock.parent_moment(rng)
            if rng.random() < 0.1:
                prov = rng.choice(city.provinces())
                f = newcomer(
                    w,
                    "popular_referrer",
                    t,
                    phone=city.phone_in(rng, city.remote_block(rng, prov)),
                    home=city.province_ip(rng, prov),
                )
            else:
                f = newcomer(w, "popular_referrer", t)
            newcomer_path(w, f, t, referrer=m.id, pay=pay)

    _until(w, "popular_referrer", budget, mum)


def virtual_operator(w: World, budget: int) -> None:
    """Parents whose number is on a virtual operator's 170 segment (cheap plans), otherwise ordinary."""
    rng = w.rng

    def one() -> None:
        t = w.clock.parent_moment(rng)
        if rng.random() < 0.4:
            p = base_customer(w, "virtual_operator", phone=city.local_phone(rng, virtual=True))
            member_week(w, p)
        else:
            newcomer_path(w, newcomer(w, "virtual_operator", t, phone=city.local_phone(rng, virtual=True)), t)

    _until(w, "virtual_operator", budget, one)


def holiday_packet_evening(w: World, budget: int) -> None:
    """双十二 evening: the staff drop a big packet in every group at 20:00:00 and members tap within a second."""
    rng = w.rng
    day = w.clock.days - 1
    for d in range(w.clock.days):
        if w.clock.day(d).month == 12 and w.clock.day(d).day == 12:
            day = d
    opening = w.clock.rain_opening(day)
    groups = rng.sample(w.groups, min(len(w.groups), rng.randrange(4, 9)))
    w.params["holiday_packet_evening"] = {"day": str(opening.date()), "groups": len(groups)}

    def member() -> None:
        p = base_customer(w, "holiday_packet_evening", groups=1)
        p.groups = [rng.choice(groups)]
        member_week(w, p, tap=0.3, rain=0.05)
        fast = rng.random() < 0.7
        t = opening + timedelta(seconds=rng.uniform(0.2, 1.2) if fast else rng.expovariate(1 / 90))
        claim_packet(w, p, t, p.groups[0], "red_packet_rain", 8.88, reaction_ms(rng, 700 if fast else 1800, 0.35))

    _until(w, "holiday_packet_evening", budget, member)


def grandparents_phone(w: World, budget: int) -> None:
    """Grandma's phone: her number and her old Android sign up her daughter's and her son's families."""
    rng = w.rng

    def grandma() -> None:
        phone = city.local_phone(rng)
        dev = city.device(rng)
        home = city.home_ip(rng)
        t = w.clock.parent_moment(rng)
        for _ in range(rng.choice((2, 2, 3))):
            p = newcomer(w, "grandparents_phone", t, phone=phone, device=dev, home=home)
            p.mobile_share = 0.3
            newcomer_path(w, p, t, pay=0.75, come=0.95)
            t = t + timedelta(hours=rng.uniform(0.2, 30))

    _until(w, "grandparents_phone", budget, grandma)


def kindergarten_class(w: World, budget: int) -> None:
    """A class's parents join the studio's new group at pick-up time on the kindergarten's Wi-Fi."""
    rng = w.rng

    def klass() -> None:
        wifi = city.fixed_ip(rng)  # the school's line: some parents are on it at the gate, most on 4G
        day = w.clock.pick_day(rng, weekend_weight=0.0, last=w.clock.days - 2)
        t0 = w.clock.day(day) + timedelta(hours=16, minutes=rng.uniform(20, 50))
        group = f"wr{city.token(rng, 30, city.OPENID)}"
        w.groups.append(group)
        w.group_codes[group] = f"QUN{len(w.groups):02d}-{city.token(rng, 4, 'ABCDEFGHJKMNPQRSTUVWXYZ23456789')}"
        for _ in range(rng.randrange(18, 36)):
            t = t0 + timedelta(seconds=rng.expovariate(1 / 900))
            p = newcomer(w, "kindergarten_class", t, home=wifi)
            p.mobile_share = 0.7
            join_group(w, p, t, group)
            p.home, p.mobile_share = city.home_ip(rng), rng.uniform(0.2, 0.6)  # the evening is at home
            if rng.random() < 0.45:
                st = t + human_delay(rng, 3 * 3600)
                join(w, p, st)
                claim_coupon(w, p, later(st, rng, 20, 600), "newcomer_gift", 30, code=w.group_codes[group], group=group)
                if rng.random() < 0.55:
                    paid = order(w, p, later(st, rng, 300, 7200), 99, campaign="trial_99")
                    studio_session(w, p, w.clock.next_open(rng, paid, 1, 6))

    _until(w, "kindergarten_class", budget, klass)


def phone_changer(w: World, budget: int) -> None:
    """A customer's new phone mid-week: a new device id for an old account (her number stays)."""
    rng = w.rng

    def one() -> None:
        p = base_customer(w, "phone_changer", groups=1)
        switch = w.clock.day(0) + timedelta(days=rng.uniform(1, w.clock.days - 1))
        member_week(w, p, until=switch)
        p.device = city.device(rng)
        member_week(w, p, tap=0.3, rain=0.1, since=switch)
        studio_session(w, p, w.clock.studio_moment(rng, w.clock.pick_day(rng)), upsell=0.25)

    _until(w, "phone_changer", budget, one)


def courier_locker(w: World, budget: int) -> None:
    """Neighbours in one compound have their albums delivered to the gate's parcel locker."""
    rng = w.rng

    def compound() -> None:
        box = city.locker(rng, city.place(rng))
        for _ in range(rng.randrange(5, 14)):
            t = w.clock.parent_moment(rng)
            p = base_customer(w, "courier_locker") if rng.random() < 0.5 else newcomer(w, "courier_locker", t)
            p.address = city.address(box, rng.choice(city.STYLES))
            if not p.paid:
                join(w, p, t)
                t = later(t, rng, 300, 7200)
            paid = order(w, p, t, rng.choice((99, 1500, 1500, 680)), campaign=None)
            studio_session(w, p, w.clock.next_open(rng, paid, 0.5, 5))

    _until(w, "courier_locker", budget, compound)


def mall_wifi(w: World, budget: int) -> None:
    """Weekend shoppers see the studio's poster in the mall and sign up on the mall's free Wi-Fi."""
    rng = w.rng
    nats = [city.fixed_ip(rng) for _ in range(2)]
    weekends = [d for d in range(w.clock.days) if w.clock.weekend(d)] or [0]

    def shopper() -> None:
        d = rng.choice(weekends)
        t = w.clock.day(d) + timedelta(hours=rng.uniform(11, 21))
        p = newcomer(w, "mall_wifi", t, home=rng.choice(nats))
        p.mobile_share = 0.35
        newcomer_path(w, p, t, pay=0.5, group=0.2)

    _until(w, "mall_wifi", budget, shopper)


def relatives_elsewhere(w: World, budget: int) -> None:
    """Grandparents and aunts in other provinces buy a package or a top-up for a child in Hangzhou."""
    rng = w.rng

    def relative() -> None:
        prov = rng.choice(city.provinces())
        t = w.clock.parent_moment(rng)
        p = newcomer(
            w,
            "relatives_elsewhere",
            t,
            phone=city.phone_in(rng, city.remote_block(rng, prov)),
            home=city.province_ip(rng, prov),
        )
        join(w, p, t, campaign=None)
        paid = order(w, p, later(t, rng, 600, 86400), rng.choice((1500, 1500, 1999, 5000)))
        kid = base_customer(w, "relatives_elsewhere", groups=0)
        studio_session(w, kid, w.clock.next_open(rng, paid, 0.5, 5), upsell=0.0)

    _until(w, "relatives_elsewhere", budget, relative)


LOOKALIKES: dict[str, Callable[[World, int], None]] = {
    "family_tablet": family_tablet,
    "office_lunch_wave": office_lunch_wave,
    "counter_tablet": counter_tablet,
    "popular_referrer": popular_referrer,
    "virtual_operator": virtual_operator,
    "holiday_packet_evening": holiday_packet_evening,
    "grandparents_phone": grandparents_phone,
    "kindergarten_class": kindergarten_class,
    "phone_changer": phone_changer,
    "courier_locker": courier_locker,
    "mall_wifi": mall_wifi,
    "relatives_elsewhere": relatives_elsewhere,
}
