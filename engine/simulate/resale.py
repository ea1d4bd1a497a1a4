"""Code resale (转卖): codes handed out in a parents' group, sold on a second-hand platform.

A member who received the group's welfare codes (or a staff member's leaked batch) lists
them on a second-hand platform (闲鱼, a 羊毛 forum); real strangers buy them, one code
each, and redeem it from their own phone. What the trade varies, each a per-seed knob:

- the seller: one member reselling the group's shared code, or a batch of per-member
  codes (each one used once, all of one group's prefix);
- the buyers: strangers from the studio's own city (a local second-hand listing) or from
  anywhere in the country; most sign up minutes before they redeem, a few are the
  store's existing customers who were never in that group;
- the pace: the listing sells over hours or days, not in a minute;
- what the buyers do next: most never come back; some pay the trial with the code.

What none of them avoids: the redeemer was never in the group the code belongs to, and
a shared code's redeemers spread over networks and provinces no group's parents live in.
"""

from __future__ import annotations

from engine.simulate.context import Sim
from engine.simulate.places import local_phone
from engine.simulate.timeline import HOUR, MINUTE
from engine.simulate.units import CODE_RESALE, Unit
from engine.simulate.world import USER_AGENT, Person

FAMILY = CODE_RESALE


def code_resale(sim: Sim) -> Unit:
    """One seller's listing: strangers redeem the group's code(s) over hours or days."""
    rng, knobs = sim.rng, sim.knobs
    unit = sim.unit(FAMILY)
    coded = [g for g in sim.groups if sim.group_code(g)] or list(sim.groups)
    group = rng.choice(coded)
    one_code = rng.random() < knobs.uniform(f"{FAMILY}.one_code_share", 0.2, 0.8)  # else a batch of codes
    shared = sim.group_code(group) or sim.ids.token("GRP", 24)
    # a listing sells one code every few minutes to every few hours (the knobs of the earlier,
    # faster version keep their names and order, so no other family's knobs are drawn anew)
    apart = knobs.uniform(f"{FAMILY}.minutes_apart", 1, 40) * 6 * MINUTE
    buy_share = knobs.uniform(f"{FAMILY}.buy_share", 0.0, 0.4)
    local = knobs.uniform(f"{FAMILY}.local_buyer_share", 0.2, 0.9, own_stream=True)
    existing = knobs.uniform(f"{FAMILY}.existing_customer_share", 0.0, 0.25, own_stream=True)
    t = sim.clock.moment()
    for _ in range(knobs.around(rng, f"{FAMILY}.outsiders", 10, 50)):
        t = sim.clock.daytime_after(t, 0, rng.expovariate(1 / apart))
        code = shared if one_code else (sim.group_code(group) or shared)
        if rng.random() < existing and sim.members:
            buyer = _outsider_member(sim, group, t)
        else:
            buyer = _stranger(sim, t, local=rng.random() < local)
            unit.add(t, "signup", buyer, campaign="trial_99", attributes={USER_AGENT: sim.ids.user_agent()})
            t += rng.uniform(0.3, 15) * MINUTE
        unit.add(t, "coupon_claim", buyer, campaign="group_welfare", amount=50.0, coupon=code)
        if rng.random() < buy_share:
            at = sim.clock.daytime_after(t, 10 * MINUTE, 48 * HOUR)
            unit.add(at, "order", buyer, amount=99.0, campaign="trial_99", coupon=code)
            unit.add(at + rng.uniform(1, 10) * MINUTE, "order_paid", buyer, amount=99.0, campaign="trial_99")
    return unit


def _stranger(sim: Sim, t: float, *, local: bool) -> Person:
    """A buyer on their own phone: the studio's city (a local listing) or anywhere in the country."""
    rng, ids = sim.rng, sim.ids
    virtual = rng.random() < 0.05
    if local:
        ip, phone = (ids.home_ip() if rng.random() < 0.6 else ids.mobile_ip()), local_phone(rng, virtual)
    else:
        ip, phone = (ids.remote_ip() if rng.random() < 0.6 else ids.mobile_ip(anywhere=True)), ids.phone(virtual)
    return Person(
        customer=ids.customer_id(),
        device=ids.device_id(),
        ip=ip,
        phone=phone,
        email=ids.honest_email(),
        address="",
        created=t,
        payment=ids.wallet(),
    )


def _outsider_member(sim: Sim, group: str, t: float) -> Person:
    """An existing customer of the studio who is not in the code's group (bought the code cheaply)."""
    for _ in range(20):
        person = sim.existing_before(t)
        if group not in person.groups:
            return person
    return _stranger(sim, t, local=True)
