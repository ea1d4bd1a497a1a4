"""Honest traffic that looks like a farm (DOMAIN.md): what a merchant must not lose.

- the store's counter tablet signing up walk-ins (the registered iPad, or a new tablet
  staff have not registered yet, on the studio's Wi-Fi);
- a family on one tablet: two to four accounts on one home device, address and Wi-Fi,
  sometimes one wallet; each parent pays for their own child and comes back;
- an office or campus NAT with a lunch-hour sign-up wave: colleagues on their own phones
  behind one address, many of whom buy;
- a popular referrer (a parent blogger) whose dozens of friends sign up within a day or
  two, and mostly buy;
- parents on virtual-operator numbers, living the ordinary newcomer journey;
- a holiday evening red-packet rain, everybody tapping within a second or two, many
  on the carriers' shared mobile exits.

Their truth is ``honest``; the family names the look-alike. Sizes and shares are
per-seed knobs, as for the farms.
"""

from __future__ import annotations

from engine.simulate.campaigns import campaign_moments
from engine.simulate.context import Sim
from engine.simulate.honest import journey, new_person, paid_order
from engine.simulate.timeline import DAY, HOUR, MINUTE
from engine.simulate.units import (
    COUNTER_TABLET,
    FAMILY_TABLET,
    HOLIDAY_RUSH,
    HONEST,
    OFFICE_LUNCH,
    POPULAR_REFERRER,
    VIRTUAL_NUMBERS,
    Unit,
)
from engine.simulate.world import CLAIM_MS, STUDIO_DEVICE, STUDIO_IP, USER_AGENT


def counter_tablet(sim: Sim) -> Unit:
    """A busy afternoon at the front desk: staff sign walk-ins up on the store's tablet."""
    rng, knobs = sim.rng, sim.knobs
    unit = sim.unit(HONEST, COUNTER_TABLET)
    new_tablet = rng.random() < knobs.uniform("counter_tablet.unregistered_share", 0.1, 0.6)
    device = sim.ids.token("store-tablet-", 24) if new_tablet else STUDIO_DEVICE
    t = sim.clock.start + rng.randrange(sim.clock.days) * DAY + rng.uniform(10, 17) * HOUR
    for _ in range(knobs.around(rng, "counter_tablet.walk_ins", 3, 15)):
        t += rng.uniform(3, 40) * MINUTE
        person = new_person(sim, t)
        unit.add(t, "signup", person, device=device, ip=STUDIO_IP)
        if rng.random() < 0.5:  # staff apply the newcomer gift at the counter, seconds later
            claimed = t + rng.uniform(10, 120)
            unit.add(
                claimed,
                "coupon_claim",
                person,
                device=device,
                ip=STUDIO_IP,
                campaign="newcomer_gift",
                amount=30.0,
                coupon=sim.ids.token("cp"),
            )
        paid_order(sim, unit, person, t + rng.uniform(3, 15) * MINUTE, 99.0, "trial_99", device=device, ip=STUDIO_IP)
    return unit


def family_tablet(sim: Sim) -> Unit:
    """Two to four relatives on one home tablet, each buying for their own child."""
    rng, knobs = sim.rng, sim.knobs
    unit = sim.unit(HONEST, FAMILY_TABLET)
    t = sim.clock.moment()
    head = new_person(sim, t)
    one_wallet = rng.random() < knobs.uniform("family_tablet.one_wallet_share", 0.2, 0.8)
    for index in range(rng.randint(2, knobs.integer("family_tablet.max_members", 3, 4))):
        person = head if index == 0 else new_person(sim, t)
        if index:
            person.device, person.ip, person.place = head.device, head.ip, head.place
            retyped = head.place is not None and rng.random() < 0.3
            person.address = head.place.render(rng) if retyped and head.place else head.address
            person.payment = head.payment if one_wallet else person.payment
        unit.add(t, "signup", person, campaign="trial_99", attributes={USER_AGENT: sim.ids.user_agent()})
        journey(sim, unit, person, t, buy_rate=0.8)
        if rng.random() < 0.4:  # comes back for the package or prints a week or two later
            paid_order(sim, unit, person, sim.clock.daytime_after(t, 5 * DAY, 12 * DAY), 299.0)
        t = sim.clock.daytime_after(t, 5 * MINUTE, 4 * DAY)
    return unit


def office_lunch(sim: Sim) -> Unit:
    """Colleagues behind one office or campus NAT signing up in a lunch break."""
    rng, knobs = sim.rng, sim.knobs
    unit = sim.unit(HONEST, OFFICE_LUNCH)
    nat = sim.ids.home_ip()
    t = sim.clock.start + rng.randrange(sim.clock.days) * DAY + rng.uniform(11.8, 12.5) * HOUR
    referrer = sim.referrer_before(t) if rng.random() < knobs.uniform("office_lunch.referred_share", 0.2, 0.8) else None
    for _ in range(knobs.around(rng, "office_lunch.colleagues", 6, 30)):
        at = t + rng.uniform(0, 75) * MINUTE
        person = new_person(sim, at)
        person.ip = nat
        invited = referrer.customer if referrer and rng.random() < 0.7 else None
        unit.add(at, "referral" if invited else "signup", person, campaign="trial_99", referrer=invited)
        person.ip = sim.ids.home_ip()  # they buy from home in the evening
        journey(sim, unit, person, at, buy_rate=knobs.uniform("office_lunch.buy_rate", 0.4, 0.8))
    return unit


def popular_referrer(sim: Sim) -> Unit:
    """A parent blogger shares the poster; dozens of friends sign up within a day or two and buy."""
    rng, knobs = sim.rng, sim.knobs
    unit = sim.unit(HONEST, POPULAR_REFERRER)
    t = sim.clock.moment()
    referrer = sim.referrer_before(t)
    spread = knobs.uniform("popular_referrer.hours", 3, 48)
    for _ in range(knobs.around(rng, "popular_referrer.friends", 8, 40)):
        at = sim.clock.daytime_after(t, 0, spread * HOUR)
        friend = new_person(sim, at)
        unit.add(at, "referral", friend, referrer=referrer.customer, campaign="trial_99")
        journey(sim, unit, friend, at, buy_rate=knobs.uniform("popular_referrer.buy_rate", 0.5, 0.9))
    return unit


def virtual_number_parents(sim: Sim) -> Unit:
    """A parent on a virtual-operator number (cheap plans are popular): an ordinary newcomer."""
    unit = sim.unit(HONEST, VIRTUAL_NUMBERS)
    t = sim.clock.moment()
    person = sim.ids.honest_person(created=t, mvno=True)
    sim.newcomers.append(person)
    unit.add(t, "signup", person, campaign="trial_99", attributes={USER_AGENT: sim.ids.user_agent()})
    journey(sim, unit, person, t)
    return unit


def holiday_rush(sim: Sim) -> Unit:
    """A holiday red-packet rain at 20:00: members of a group tap within a second or two."""
    rng, knobs = sim.rng, sim.knobs
    unit = sim.unit(HONEST, HOLIDAY_RUSH)
    moment = rng.choice(campaign_moments(sim))
    group = rng.choice(list(sim.groups))
    sim.drops.append((moment, group))
    quick = knobs.uniform("holiday_red_packet_rush.median_ms", 900, 2200)
    members = [p for p in sim.groups[group] if p.created < moment]
    share = knobs.uniform("holiday_red_packet_rush.share", 0.5, 0.95)
    for person in rng.sample(members, k=int(len(members) * share)):
        claim_ms = max(450, int(rng.lognormvariate(0, 0.35) * quick))
        ip = person.ip if rng.random() < 0.4 else sim.ids.mobile_ip()
        unit.add(
            moment + claim_ms / 1000 + rng.expovariate(1 / 3),
            "red_packet_claim",
            person,
            ip=ip,
            group=group,
            campaign="red_packet_rain",
            amount=8.88,
            attributes={CLAIM_MS: claim_ms},
        )
    return unit


LOOKALIKE_UNITS = {
    COUNTER_TABLET: counter_tablet,
    FAMILY_TABLET: family_tablet,
    OFFICE_LUNCH: office_lunch,
    POPULAR_REFERRER: popular_referrer,
    VIRTUAL_NUMBERS: virtual_number_parents,
    HOLIDAY_RUSH: holiday_rush,
}
