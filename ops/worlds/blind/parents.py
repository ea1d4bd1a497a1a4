"""Ordinary parents, the bulk of the studio's traffic, and the paths every honest family reuses.

A parent from before the window has paid orders in the history (a trial, the 1,500
package, sometimes a prepaid top-up) and sits in one or two of the studio's groups:
she taps the weekly packet when she sees it, sometimes the evening rain, claims a
coupon, books a session. A newcomer sees a poster or a friend's share, signs up for the
99-yuan trial, about 58% pay it and come to the studio, and a few buy the package there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ops.worlds.blind import city
from ops.worlds.blind.clock import human_delay, later
from ops.worlds.blind.story import (
    Person,
    World,
    claim_coupon,
    claim_packet,
    group_buy,
    join,
    join_group,
    new_group_buy_id,
    order,
    past_order,
    reaction_ms,
    visit,
)

HONEST = "honest"


def base_customer(w: World, family: str, *, groups: int | None = None, **kw: object) -> Person:
    """A customer from before the window, with her paid orders in the history."""
    rng = w.rng
    age = rng.uniform(40, 900)
    p = w.person(family, HONEST, w.clock.start - timedelta(days=age), **kw)
    p.mobile_share = rng.uniform(0.15, 0.6)
    if rng.random() < 0.6:
        p.address = city.address(city.place(rng), rng.choice(city.STYLES[:6]))
    last = rng.uniform(3, min(age, 420))
    past_order(w, p, last + rng.uniform(0, max(0.0, age - last)), 99)
    if rng.random() < 0.45:
        past_order(w, p, last, rng.choice((1500, 1500, 1500, 680, 300)))
    if rng.random() < 0.12:
        past_order(w, p, last + rng.uniform(0, 30), rng.choice((5000, 5000, 8000, 10000)))
    n = groups if groups is not None else rng.choices((0, 1, 2), (0.2, 0.6, 0.2))[0]
    p.groups = rng.sample(w.groups, min(n, len(w.groups)))
    return p


def newcomer(w: World, family: str, t: datetime, **kw: object) -> Person:
    p = w.person(family, HONEST, t, **kw)
    p.mobile_share = w.rng.uniform(0.2, 0.8)
    return p


def member_week(
    w: World,
    p: Person,
    *,
    tap: float = 0.35,
    rain: float = 0.12,
    since: datetime | None = None,
    until: datetime | None = None,
) -> None:
    """A group member's week (or the part of it in [since, until)): the packets she sees, a coupon now and then."""
    rng = w.rng
    for at, group, campaign, amount in w.drops:
        if group not in p.groups or at < (since or p.created) or (until is not None and at >= until):
            continue
        chance = tap if campaign == "weekly_welfare" else rain
        if rng.random() < chance:
            t = at + human_delay(rng, 240 if campaign == "weekly_welfare" else 150)
            claim_packet(w, p, t, group, campaign, amount, reaction_ms(rng))
    if p.paid and rng.random() < 0.12:
        claim_coupon(w, p, w.clock.parent_moment(rng), "season_reshoot", 200)
    if p.paid and rng.random() < 0.04:
        claim_coupon(w, p, w.clock.parent_moment(rng), "winback", 50)
    if p.groups and rng.random() < 0.05:
        group = rng.choice(p.groups)
        claim_coupon(w, p, w.clock.parent_moment(rng), "newcomer_gift", 30, code=w.group_codes[group], group=group)


def studio_session(w: World, p: Person, t: datetime, *, upsell: float = 0.06) -> None:
    """A session in the studio; some buy the package at the counter (their own phone, the shop's Wi-Fi)."""
    if not w.clock.inside(t):
        return
    visit(w, p, t)
    if w.rng.random() < upsell:
        amount = w.rng.choice((1500, 1500, 1500, 1999, 2680))
        order(w, p, later(t, w.rng, 1800, 5400), amount, net=(w.store_ip, "WIFI"))
    if w.rng.random() < 0.01:
        order(w, p, later(t, w.rng, 1800, 5400), w.rng.choice((5000, 8000, 10000)), net=(w.store_ip, "WIFI"))


def newcomer_path(
    w: World,
    p: Person,
    t: datetime,
    *,
    referrer: str | None = None,
    pay: float = 0.58,
    gift: float = 0.4,
    come: float = 0.92,
    group: float = 0.45,
    campaign: str | None = "trial_99",
) -> None:
    """Sign up, maybe claim the newcomer gift, pay the trial online, book and come to the studio."""
    rng = w.rng
    join(w, p, t, referrer=referrer, campaign=campaign)
    if rng.random() < gift:
        claim_coupon(w, p, t + human_delay(rng, 900), "newcomer_gift", 30)
    if rng.random() < pay:
        paid = order(w, p, t + human_delay(rng, 1500), 99, campaign="trial_99")
        if rng.random() < come:
            studio_session(w, p, w.clock.next_open(rng, paid, 0.5, 6))
    if w.groups and rng.random() < group:
        g = rng.choice(w.groups)
        join_group(w, p, t + human_delay(rng, 3600 * 6), g, referrer=referrer)
        member_week(w, p, tap=0.3, rain=0.08)


def honest_group_buy(w: World, leader: Person, t: datetime, friends: list[Person]) -> None:
    """A parent opens a 3-person 拼团 and her friends join from their own phones over the evening."""
    rng = w.rng
    gid = new_group_buy_id(w)
    group_buy(w, leader, t, gid)
    order(w, leader, later(t, rng, 20, 300), 69, campaign="group_buy_69")
    for f in friends:
        ft = t + human_delay(rng, 3 * 3600)
        group_buy(w, f, ft, gid, address=f.address)
        if rng.random() < 0.8:
            paid = order(w, f, later(ft, rng, 20, 400), 69, campaign="group_buy_69")
            if rng.random() < 0.85:
                studio_session(w, f, w.clock.next_open(rng, paid, 1, 7))


def parents(w: World, budget: int) -> None:
    """Ordinary parents until the world has ``budget`` of their events."""
    rng = w.rng
    start = len(w.events)
    while len(w.events) - start < budget:
        story = rng.choices(("member", "newcomer", "referral", "group_buy"), (0.55, 0.3, 0.1, 0.05))[0]
        if story == "member":
            p = base_customer(w, "parents")
            member_week(w, p)
            if rng.random() < 0.1:
                studio_session(w, p, w.clock.studio_moment(rng, w.clock.pick_day(rng, weekend_weight=2.5)), upsell=0.2)
        elif story == "newcomer":
            t = w.clock.parent_moment(rng)
            newcomer_path(w, newcomer(w, "parents", t), t)
        elif story == "referral":
            mum = base_customer(w, "parents")
            member_week(w, mum)
            for _ in range(rng.choice((1, 1, 2, 3))):
                t = w.clock.parent_moment(rng)
                newcomer_path(w, newcomer(w, "parents", t), t, referrer=mum.id)
        else:
            t = w.clock.parent_moment(rng, last=w.clock.days - 2)
            leader = base_customer(w, "parents") if rng.random() < 0.5 else newcomer(w, "parents", t)
            if not leader.paid:
                join(w, leader, t - timedelta(minutes=rng.uniform(2, 30)))
            honest_group_buy(w, leader, t, [newcomer(w, "parents", t) for _ in range(2)])
    w.truncate(start + budget)
