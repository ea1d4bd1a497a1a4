"""Honest parents: the studio's customer base, newcomers, real referrals, group red packets.

The ladder from DOMAIN.md drives the journeys: a newcomer takes the 99-yuan trial
(58% of those who reach the trial step), a quarter of trial customers upgrade to the
1,500-yuan package, and old customers top up 5,000 / 8,000 / 10,000. The trial is a
session in the studio: nine in ten trial buyers come (``store_visit``), days later. Friends invited
by a parent sign up on their own phones and mostly buy within days; red packets are
grabbed at human speed, by the members of a group, within a few minutes.
"""

from __future__ import annotations

from datetime import datetime

from engine.simulate.context import Sim
from engine.simulate.timeline import CHINA, DAY, HOUR, MINUTE, local_hour
from engine.simulate.units import HONEST, Unit
from engine.simulate.world import (
    CLAIM_MS,
    PAY_ACCOUNT_CUSTOMERS,
    SECONDS_SINCE_SIGNUP,
    USER_AGENT,
    Person,
)

GROUP_SIZE = 45
ENTRY_CAMPAIGNS = ("trial_99", "group_buy_69")
TOPUPS = (5000.0, 8000.0, 10000.0)


def build_base(sim: Sim, customers: int) -> Unit:
    """Customers from before the window, in parent groups, with a year of paid orders."""
    unit = sim.unit(HONEST)
    start = sim.clock.start
    for index in range(max(1, customers // GROUP_SIZE)):
        sim.groups[f"parents-{index + 1:02d}"] = []
    for _ in range(customers):
        person = sim.ids.honest_person(created=start - sim.rng.uniform(30, 700) * DAY)
        person.paid = True
        sim.members.append(person)
        sim.join_group(person, unit, person.created + DAY)
        amounts = _history_amounts(sim)
        earliest = max(person.created, start - 360 * DAY)
        times = sorted(sim.rng.uniform(earliest, start - DAY) for _ in amounts)
        for t, amount in zip(times, amounts, strict=True):
            unit.add(t, "order_paid", person, amount=amount)
    return unit


def _history_amounts(sim: Sim) -> list[float]:
    roll = sim.rng.random()
    if roll < 0.12:
        return [99.0, 1500.0, sim.rng.choice(TOPUPS)]  # a member who topped up: 重要型
    if roll < 0.45:
        return [99.0, 1500.0]  # bought the package: 常规型 while recent
    return [99.0]  # took the trial only: 偶然型


def newcomer(sim: Sim) -> Unit:
    """A parent finds the mini-program and signs up, then maybe claims and buys."""
    unit = sim.unit(HONEST)
    t = sim.clock.moment()
    person = new_person(sim, t)
    unit.add(t, "signup", person, campaign="trial_99", attributes={USER_AGENT: sim.ids.user_agent()})
    journey(sim, unit, person, t)
    return unit


def referral_circle(sim: Sim) -> Unit:
    """A parent shares the poster; one to three friends sign up through it over a few days."""
    unit = sim.unit(HONEST)
    t = sim.clock.moment()
    referrer = sim.referrer_before(t)
    for _ in range(sim.rng.choice((1, 1, 1, 2, 2, 3))):
        t = sim.clock.daytime_after(t, 10 * MINUTE, 2 * DAY)
        friend = new_person(sim, t)
        if sim.rng.random() < 0.08:
            friend.ip = referrer.ip  # grandma signs up on the family Wi-Fi
        unit.add(
            t,
            "referral",
            friend,
            referrer=referrer.customer,
            campaign="trial_99",
            attributes={USER_AGENT: sim.ids.user_agent()},
        )
        journey(sim, unit, friend, t, buy_rate=0.75)
    return unit


def journey(sim: Sim, unit: Unit, person: Person, t: float, buy_rate: float = 0.58) -> None:
    """After the first event: the newcomer gift, the trial, maybe the package, maybe a refund."""
    rng = sim.rng
    if rng.random() < 0.5:
        claim_at = t + rng.uniform(1, 40) * MINUTE
        on_4g = rng.random() < sim.knobs.uniform("parents.claim_on_4g_share", 0.05, 0.35)  # left the home Wi-Fi
        unit.add(
            claim_at,
            "coupon_claim",
            person,
            ip=sim.ids.mobile_ip() if on_4g else None,
            campaign="newcomer_gift",
            amount=30.0,
            coupon=sim.ids.token("cp"),
            attributes={SECONDS_SINCE_SIGNUP: int(claim_at - t)},
        )
    if rng.random() < 0.35:
        sim.join_group(person, unit, t + rng.uniform(1, 60) * MINUTE)
    if rng.random() >= buy_rate:
        return
    trial_at = sim.clock.daytime_after(t, 10 * MINUTE, 6 * DAY)
    paid_order(sim, unit, person, trial_at, 99.0, campaign="trial_99")
    person.paid = True
    if rng.random() < 0.03:
        unit.add(trial_at + rng.uniform(1, 3) * DAY, "refund", person, amount=99.0)
    elif rng.random() < 0.25:
        paid_order(sim, unit, person, sim.clock.daytime_after(trial_at, 2 * DAY, 10 * DAY), 1500.0)


def regular_visit(sim: Sim) -> Unit:
    """An old customer comes back: a package, prints, a top-up, or a seasonal coupon."""
    unit = sim.unit(HONEST)
    t = sim.clock.moment()
    person = sim.existing_before(t)
    roll = sim.rng.random()
    coded = [g for g in person.groups if sim.group_code(g)]
    if roll < 0.08 and coded:
        group = sim.rng.choice(coded)  # the welfare code staff handed this member in the group
        coupon = sim.group_code(group)
        unit.add(t, "coupon_claim", person, group=group, campaign="group_welfare", amount=50.0, coupon=coupon)
    elif roll < 0.25:
        campaign = "season_reshoot" if sim.rng.random() < 0.7 else "winback"
        amount = 200.0 if campaign == "season_reshoot" else 50.0
        unit.add(t, "coupon_claim", person, campaign=campaign, amount=amount, coupon=sim.ids.token("cp"))
        if sim.rng.random() < 0.4:
            paid_order(sim, unit, person, sim.clock.daytime_after(t, HOUR, 5 * DAY), 1500.0, coupon=None)
    elif roll < 0.45:
        paid_order(sim, unit, person, t, sim.rng.choice(TOPUPS))
    elif roll < 0.7:
        paid_order(sim, unit, person, t, 1500.0)
    else:
        paid_order(sim, unit, person, t, float(sim.rng.choice((199, 299, 399, 680))))
    return unit


def red_packet_drop(sim: Sim) -> Unit:
    """Staff drop red packets in one parent group; members grab them within minutes."""
    unit = sim.unit(HONEST)
    rng = sim.rng
    group = rng.choice(list(sim.groups))
    t = sim.clock.moment()
    hour = local_hour(t)
    rain = datetime.fromtimestamp(t, CHINA).month == 12 and rng.random() < 0.3
    if rain:
        t += (20 - hour) * HOUR
    elif not 9 <= hour < 21:
        t += (10 - hour) * HOUR if hour < 9 else -(hour - 19) * HOUR
    sim.drops.append((t, group))
    members = [p for p in sim.groups[group] if p.created < t]
    for person in rng.sample(members, k=int(len(members) * rng.uniform(0.3, 0.7))):
        claim_ms = sim.ids.human_claim_ms()
        at = t + rng.expovariate(1 / 70) + claim_ms / 1000
        ip = person.ip if rng.random() < 0.7 else sim.ids.mobile_ip()
        unit.add(
            at,
            "red_packet_claim",
            person,
            ip=ip,
            group=group,
            campaign="red_packet_rain" if rain else "weekly_welfare",
            amount=8.88 if rain else 5.0,
            attributes={CLAIM_MS: claim_ms},
        )
    return unit


def group_buy(sim: Sim) -> Unit:
    """A parent opens a 3-person group-buy of the trial and two friends complete it."""
    unit = sim.unit(HONEST)
    t = sim.clock.moment()
    group = sim.ids.token("gb-", 32)
    opener = sim.existing_before(t) if sim.rng.random() < 0.5 else new_person(sim, t)
    members: list[Person] = []
    joined = t
    for index in range(3):
        if index:
            joined = sim.clock.daytime_after(joined, 5 * MINUTE, 20 * HOUR)
        person = opener if index == 0 else new_person(sim, joined)
        members.append(person)
        unit.add(joined, "group_buy_join", person, group=group, campaign="group_buy_69", address=person.address)
    for person in members:
        paid_order(sim, unit, person, joined + sim.rng.uniform(1, 30) * MINUTE, 69.0, campaign="group_buy_69")
        person.paid = True
    return unit


def new_person(sim: Sim, t: float) -> Person:
    person = sim.ids.honest_person(created=t)
    sim.newcomers.append(person)
    return person


def paid_order(
    sim: Sim,
    unit: Unit,
    person: Person,
    t: float,
    amount: float,
    campaign: str | None = None,
    coupon: str | None = None,
    device: str | None = None,
    ip: str | None = None,
) -> None:
    """An order and, minutes later, its payment (the outcome that builds RFM features)."""
    pay = 2 if sim.rng.random() < 0.15 else 1  # the wallet also pays for a spouse's account
    unit.add(
        t,
        "order",
        person,
        amount=amount,
        campaign=campaign,
        coupon=coupon,
        address=person.address,
        device=device,
        ip=ip,
        attributes={PAY_ACCOUNT_CUSTOMERS: pay},
    )
    unit.add(
        t + sim.rng.uniform(0.5, 20) * MINUTE,
        "order_paid",
        person,
        amount=amount,
        campaign=campaign,
        device=device,
        ip=ip,
    )
    if campaign in ENTRY_CAMPAIGNS and sim.rng.random() < 0.9:  # the trial is a session in the studio
        at = t + sim.rng.uniform(5, 40) * MINUTE if device else sim.clock.daytime_after(t, DAY, 10 * DAY)
        unit.add(at, "store_visit", customer=person.customer, campaign=campaign)
