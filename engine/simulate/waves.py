"""Honest waves on one network or one phone (DOMAIN.md's look-alikes of a farm's burst).

- a campus canteen's lunch-hour sign-up wave: dozens of students or staff behind the
  campus NAT (one to four exits on one to three /24s) within 30-90 minutes, each on their
  own phone, many on numbers from their home provinces, some on virtual operators; a
  classmate shares the link in a group chat and the sign-ups cluster right after each
  post; most take the newcomer gift within a minute or two, a fraction buy the cheap
  trial, few come back;
- a partner class: a kindergarten or school class the studio partners with, its teacher
  posting the offer in the class parents' group; twenty-odd parents sign up through her
  link within an evening, from their homes and the carriers' 4G, and most buy;
- grandparents on a grandchild's phone: a parent signs grandma and grandpa up on her
  own phone (their numbers, often from their home town), on the family Wi-Fi or from the
  grandparents' home elsewhere; they pay with their own wallet or the parent's.

Each story differs from a farm in what its accounts share (nothing but a network, or one
phone of a family) and in what they do next (they pay each from their own wallet, they
come to the studio). Sizes, paces and shares are per-seed knobs.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.simulate.context import Sim
from engine.simulate.honest import new_person, paid_order
from engine.simulate.rented_devices import PARENT_MODELS, android_user_agent
from engine.simulate.timeline import DAY, HOUR, MINUTE
from engine.simulate.units import CAMPUS_LUNCH, GRANDPARENTS_PHONE, HONEST, PARTNER_CLASS, Unit
from engine.simulate.world import SECONDS_SINCE_SIGNUP, USER_AGENT, Person


def _campus_exits(sim: Sim) -> list[str]:
    """The campus NAT's exits: one to four addresses on one to three neighbouring /24s of one local /16."""
    rng, knobs = sim.rng, sim.knobs
    a, b, c, _ = sim.ids.home_ip().split(".")
    nets = [int(c)] + [(int(c) + rng.randint(1, 6)) % 256 for _ in range(knobs.integer("campus_lunch.extra_24s", 0, 2))]
    return [
        f"{a}.{b}.{rng.choice(nets)}.{rng.randrange(1, 255)}" for _ in range(knobs.integer("campus_lunch.exits", 1, 4))
    ]


def _claim(sim: Sim, unit: Unit, person: Person, t: float, median_s: float, ip: str | None) -> None:
    at = t + max(5.0, sim.rng.lognormvariate(0, 0.6) * median_s)
    unit.add(
        at,
        "coupon_claim",
        person,
        ip=ip,
        campaign="newcomer_gift",
        amount=30.0,
        coupon=sim.ids.token("cp"),
        attributes={SECONDS_SINCE_SIGNUP: int(at - t)},
    )


def campus_lunch_wave(sim: Sim) -> Unit:
    """Students or staff behind one campus NAT sign up in a lunch hour, clustered after group-chat posts."""
    rng, knobs = sim.rng, sim.knobs
    unit = sim.unit(HONEST, CAMPUS_LUNCH)
    exits = _campus_exits(sim)
    t0 = sim.clock.start + rng.randrange(sim.clock.days) * DAY + rng.uniform(11.3, 12.6) * HOUR
    span = knobs.uniform("campus_lunch.minutes", 30, 90) * MINUTE
    posts = sorted(t0 + rng.uniform(0, 0.7) * span for _ in range(rng.randint(1, 3)))
    home_numbers = knobs.uniform("campus_lunch.home_province_numbers", 0.3, 0.7)
    virtual = knobs.uniform("campus_lunch.virtual_numbers", 0.03, 0.15)
    referred = knobs.uniform("campus_lunch.referred_share", 0.3, 0.9)
    claim_share = knobs.uniform("campus_lunch.claim_share", 0.6, 0.95)
    claim_median = knobs.uniform("campus_lunch.claim_median_s", 20, 120)
    on_4g = knobs.uniform("campus_lunch.on_4g_share", 0.05, 0.3)
    buy_rate = knobs.uniform("campus_lunch.buy_rate", 0.15, 0.45)
    gap = knobs.uniform("campus_lunch.minutes_after_post", 2, 10) * MINUTE
    # the classmate who shares the link: a customer already, or the first of the wave
    sharer: Person | None = sim.referrer_before(t0) if rng.random() < 0.5 else None
    for index in range(knobs.around(rng, "campus_lunch.students", 15, 60)):
        at = min(t0 + span, rng.choice(posts) + rng.expovariate(1 / gap))
        person = new_person(sim, at)
        person.ip = rng.choice(exits)
        if rng.random() < virtual:
            person.phone = sim.ids.phone(virtual=True)
        elif rng.random() < home_numbers:
            person.phone = sim.ids.phone()  # kept the number from home, another province
        invited = sharer is not None and index and rng.random() < referred
        unit.add(
            at,
            "referral" if invited else "signup",
            person,
            referrer=sharer.customer if invited and sharer else None,
            campaign="trial_99",
            attributes={USER_AGENT: sim.ids.user_agent()},
        )
        if sharer is None:
            sharer = person  # the first to sign up posts the link in the class chat
            sim.referrers.add(person.customer)
        if rng.random() < claim_share:
            _claim(sim, unit, person, at, claim_median, sim.ids.mobile_ip() if rng.random() < on_4g else None)
        if rng.random() < 0.3:
            sim.join_group(person, unit, at + rng.uniform(1, 30) * MINUTE)
        if rng.random() < buy_rate:  # the cheap trial, from the dorm (the same campus network) or on 4G
            person.ip = rng.choice(exits) if rng.random() < 0.7 else sim.ids.mobile_ip()
            paid_order(sim, unit, person, sim.clock.daytime_after(at, 5 * MINUTE, 5 * DAY), 99.0, "trial_99")
            person.paid = True
    return unit


def partner_class(sim: Sim) -> Unit:
    """A partner class's teacher posts the offer in the parents' group; parents sign up through her link."""
    rng, knobs = sim.rng, sim.knobs
    unit = sim.unit(HONEST, PARTNER_CLASS)
    t0 = sim.clock.start + rng.randrange(sim.clock.days) * DAY + rng.uniform(16.5, 21) * HOUR
    teacher = sim.referrer_before(t0)
    spread = knobs.uniform("partner_class.hours", 1, 5) * HOUR
    school_wifi = sim.ids.home_ip()  # parents at pick-up time on the kindergarten's Wi-Fi
    at_gate = knobs.uniform("partner_class.at_gate_share", 0.1, 0.5)
    claim_share = knobs.uniform("partner_class.claim_share", 0.5, 0.9)
    buy_rate = knobs.uniform("partner_class.buy_rate", 0.5, 0.85)
    for _ in range(knobs.around(rng, "partner_class.parents", 10, 35)):
        at = t0 + rng.expovariate(3 / spread)
        person = new_person(sim, at)
        roll = rng.random()
        home = person.ip
        if roll < at_gate:
            person.ip = school_wifi
        elif roll < at_gate + 0.3:
            person.ip = sim.ids.mobile_ip()
        unit.add(
            at,
            "referral",
            person,
            referrer=teacher.customer,
            campaign="trial_99",
            attributes={USER_AGENT: sim.ids.user_agent()},
        )
        if rng.random() < claim_share:
            _claim(sim, unit, person, at, 60, None)
        person.ip = home  # they buy from home
        if rng.random() < buy_rate:
            paid_order(sim, unit, person, sim.clock.daytime_after(at, 30 * MINUTE, 6 * DAY), 99.0, "trial_99")
            person.paid = True
            if rng.random() < 0.2:
                paid_order(sim, unit, person, sim.clock.daytime_after(at, 7 * DAY, 12 * DAY), 1500.0)
    return unit


def grandparents_phone(sim: Sim) -> Unit:
    """A parent signs her parents up on her own phone; they buy the trial or a package for the grandchild."""
    rng, knobs = sim.rng, sim.knobs
    unit = sim.unit(HONEST, GRANDPARENTS_PHONE)
    t = sim.clock.moment()
    parent = sim.existing_before(t) if rng.random() < 0.6 else new_person(sim, t)
    if parent.created >= t:
        unit.add(t, "signup", parent, campaign="trial_99", attributes={USER_AGENT: sim.ids.user_agent()})
        t += rng.uniform(2, 30) * MINUTE
    elsewhere = rng.random() < knobs.uniform("grandparents_phone.at_their_home_share", 0.2, 0.6)
    ip = sim.ids.away_ip() if elsewhere else parent.ip  # visiting them in their home town, or at hers
    own_wallet = knobs.uniform("grandparents_phone.own_wallet_share", 0.3, 0.8)
    for _ in range(rng.choice((1, 2, 2))):
        t += rng.uniform(1, 15) * MINUTE
        grand = new_person(sim, t)
        grand.device, grand.ip = parent.device, ip
        if rng.random() < 0.6:
            grand.phone = sim.ids.phone()  # a number from their home province
        if not elsewhere:
            grand.address = parent.address
        grand.payment = grand.payment if rng.random() < own_wallet else parent.payment
        unit.add(t, "signup", grand, campaign="trial_99", attributes={USER_AGENT: sim.ids.user_agent()})
        if rng.random() < 0.6:
            _claim(sim, unit, grand, t, 60, None)
        if rng.random() < 0.7:
            paid_order(sim, unit, grand, sim.clock.daytime_after(t, 10 * MINUTE, 3 * DAY), 99.0, "trial_99")
            grand.paid = True
            if rng.random() < 0.25:
                paid_order(sim, unit, grand, sim.clock.daytime_after(t, 4 * DAY, 10 * DAY), 1500.0)
    return unit


#: The opt-in wider campus (``--family-set lookalikes``): its own family name, so the default mix is unchanged.
CAMPUS_WIDE = "campus_wave_wide"


def _wide_exits(sim: Sim, shape: str) -> Callable[[], str]:
    """Where a campus's phones leave: a NAT's few exits, one proxy address, or IPv6 (one /48, a /64 per building)."""
    rng = sim.rng
    if shape == "ipv6":
        site = f"240e:{rng.randrange(0x300, 0x3FF):x}:{rng.randrange(0x10000):x}"
        nets = [f"{site}:{rng.randrange(0x10000):x}" for _ in range(rng.randint(1, 6))]

        def address() -> str:
            net, host = rng.choice(nets), rng.randrange(1, 0x10000)
            return f"{net}:{host:x}:{rng.randrange(0x10000):x}::{rng.randrange(1, 0x10000):x}"

        return address
    if shape == "proxy":
        proxy = sim.ids.home_ip()
        return lambda: proxy
    exits = _campus_exits(sim)
    return lambda: rng.choice(exits)


def campus_wave_wide(sim: Sim) -> Unit:
    """A campus lunch wave over wider ranges than :func:`campus_lunch_wave` (DOMAIN.md's look-alike, not one campus).

    Per story: 20 to 200 students; a NAT (one to four exits), a proxy's single address or IPv6;
    at 11:30 or 12:30 (the school's bell); a handset mix where two popular phones (one
    WeChat version) take 20-70% of the wave; they claim the gift, some buy, some come back.
    """
    rng, knobs = sim.rng, sim.knobs
    unit = sim.unit(HONEST, CAMPUS_WIDE)
    shape = rng.choice(("nat", "nat", "proxy", "ipv6"))
    exit_ip = _wide_exits(sim, shape)
    bell = rng.choice((11.5, 12.5)) + rng.uniform(-0.15, 0.25)
    t0 = sim.clock.start + rng.randrange(sim.clock.days) * DAY + bell * HOUR
    span = rng.uniform(20, 90) * MINUTE
    size = rng.choice((rng.randint(20, 40), rng.randint(40, 90), rng.randint(90, 200)))
    popular = rng.sample(PARENT_MODELS[:6], k=2)
    dominant = rng.uniform(0.2, 0.7)
    posts = sorted(t0 + rng.uniform(0, 0.7) * span for _ in range(rng.randint(1, 4)))
    gap = rng.uniform(1, 10) * MINUTE
    referred = rng.uniform(0.2, 0.9)
    claim_share = knobs.uniform("campus_wave_wide.claim_share", 0.6, 0.95, own_stream=True)
    buy_rate = knobs.uniform("campus_wave_wide.buy_rate", 0.15, 0.5, own_stream=True)
    sharer: Person | None = sim.referrer_before(t0) if rng.random() < 0.5 else None
    for index in range(size):
        at = min(t0 + span, rng.choice(posts) + rng.expovariate(1 / gap))
        person = new_person(sim, at)
        person.ip = exit_ip()
        if rng.random() < 0.08:
            person.phone = sim.ids.phone(virtual=True)
        elif rng.random() < 0.5:
            person.phone = sim.ids.phone()  # kept the number from home, another province
        if rng.random() < dominant:
            model, brand, android = rng.choice(popular)
            agent = android_user_agent(model, brand, android)
        else:
            agent = sim.ids.user_agent()  # any other phone (dressed by its device), or an iPhone
        invited = sharer is not None and index and rng.random() < referred
        unit.add(
            at,
            "referral" if invited else "signup",
            person,
            referrer=sharer.customer if invited and sharer else None,
            campaign="trial_99",
            attributes={USER_AGENT: agent},
        )
        if sharer is None:
            sharer = person
            sim.referrers.add(person.customer)
        if rng.random() < claim_share:
            _claim(sim, unit, person, at, rng.uniform(15, 120), sim.ids.mobile_ip() if rng.random() < 0.15 else None)
        if rng.random() < 0.3:
            sim.join_group(person, unit, at + rng.uniform(1, 30) * MINUTE)
        if rng.random() < buy_rate:  # the trial from the dorm or on 4G, and some come back for more
            person.ip = exit_ip() if rng.random() < 0.7 else sim.ids.mobile_ip()
            paid_order(sim, unit, person, sim.clock.daytime_after(at, 5 * MINUTE, 5 * DAY), 99.0, "trial_99")
            person.paid = True
            if rng.random() < 0.25:
                paid_order(sim, unit, person, sim.clock.daytime_after(at, 6 * DAY, 12 * DAY), 299.0)
    return unit


WIDE_UNITS = {CAMPUS_WIDE: campus_wave_wide}
WIDE_SHARES = {CAMPUS_WIDE: 0.02}

WAVE_UNITS = {CAMPUS_LUNCH: campus_lunch_wave, PARTNER_CLASS: partner_class, GRANDPARENTS_PHONE: grandparents_phone}
WAVE_SHARES = {CAMPUS_LUNCH: 0.015, PARTNER_CLASS: 0.012, GRANDPARENTS_PHONE: 0.008}
