"""Pay, release, refund (刷单): an organiser hires buyers to pay through its referrer accounts, then refunds them.

The organiser keeps a few referrer accounts (it cannot use one: the gift is once per
referrer) and pays real people, each on their own phone, to join through one of them and
buy what releases the referrer's gift; days later the buyer asks for the money back and
the organiser pays the buyer's fee. What the trade varies, each a per-seed knob:

- the referrer accounts: never seen by the store, signed up days or weeks before, or kept
  warm with a claim now and then; a few of them paid the trial once, long before (so "the
  referrer never paid" is not a given);
- the buyers: hired nationwide (numbers from anywhere) or in the studio's own city;
- one organiser or several at once, each with its own referrers and wallet;
- the payment: the least that releases the reward (the 99-yuan trial) or more (the trial
  with an add-on), minutes after joining or hours later, some on the organiser's wallet;
- the refunds: all or some of the buyers, after half a day to a week; some never refund
  (the organiser reimburses them instead).

What none of them avoids: the referrer gains payers without being a paying customer, its
invitees pay soon after joining and never come to the studio.
"""

from __future__ import annotations

from typing import Any

from engine.simulate.context import Sim
from engine.simulate.places import Place, local_phone
from engine.simulate.timeline import DAY, HOUR, MINUTE
from engine.simulate.units import PAY_RELEASE_REFUND, Unit
from engine.simulate.world import CLAIM_MS, Person

FAMILY = PAY_RELEASE_REFUND
TRIAL = 99.0
ADD_ONS = (30.0, 100.0, 200.0)  # a print or a frame on top of the trial


def pay_release_refund(sim: Sim) -> Unit:
    """One or more organisers' hired buyers paying through their referrer accounts, then refunding."""
    unit = sim.unit(FAMILY)
    start = sim.clock.moment()
    for _ in range(sim.knobs.integer(f"{FAMILY}.organisers", 1, 3)):
        _organiser(sim, unit, start + sim.rng.uniform(0, 1) * DAY)
    return unit


def _organiser(sim: Sim, unit: Unit, start: float) -> None:
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    wallet = ids.wallet()
    own_wallet = knobs.uniform(f"{FAMILY}.organiser_pays", 0.0, 0.7)
    local = knobs.uniform(f"{FAMILY}.local_buyer_share", 0.0, 0.9)  # hired in the studio's city
    days = knobs.uniform(f"{FAMILY}.days", 1.0, 5.0)
    pay_within = knobs.uniform(f"{FAMILY}.pay_within_hours", 0.25, 12.0)
    more = knobs.uniform(f"{FAMILY}.above_threshold_share", 0.0, 0.4)
    refunding = knobs.uniform(f"{FAMILY}.refund_share", 0.5, 1.0)
    refund_after = knobs.uniform(f"{FAMILY}.refund_after_days", 0.5, 5)
    buyers = max(2, knobs.around(rng, f"{FAMILY}.buyers", 6, 24) // knobs.integer(f"{FAMILY}.organisers", 1, 3))
    # one gift per referrer: an account for every one to four buyers, never more accounts than buyers
    per_referrer = knobs.uniform(f"{FAMILY}.buyers_per_referrer", 1.0, 4.0)
    referrers = [_referrer(sim, unit, start) for _ in range(max(1, round(buyers / per_referrer)))]
    for _ in range(buyers):
        t = sim.clock.daytime_after(start, 0, days * DAY)
        buyer = _buyer(sim, t, local=rng.random() < local)
        buyer.payment = wallet if rng.random() < own_wallet else ids.wallet()
        unit.add(t, "referral", buyer, referrer=rng.choice(referrers).customer, campaign="trial_99")
        paid = t + rng.uniform(5 * MINUTE, max(10 * MINUTE, pay_within * HOUR))
        amount = TRIAL + (rng.choice(ADD_ONS) if rng.random() < more else 0.0)
        unit.add(paid, "order", buyer, amount=amount, campaign="trial_99", address=buyer.address)
        unit.add(paid + rng.uniform(0.5, 5) * MINUTE, "order_paid", buyer, amount=amount, campaign="trial_99")
        if rng.random() < refunding:
            unit.add(paid + rng.uniform(0.5, 1.5) * refund_after * DAY, "refund", buyer, amount=amount)


def _referrer(sim: Sim, unit: Unit, start: float) -> Person:
    """A referrer account: never seen, signed up before, or kept warm; now and then one paid the trial once."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    # made days or weeks before the campaign; a scored event of it falls inside the log's window
    born = max(sim.clock.start + rng.uniform(0, 6) * HOUR, start - rng.uniform(1, 20) * DAY)
    person = Person(
        customer=ids.customer_id(),
        device=ids.device_id(),
        ip=ids.remote_ip(),  # the organiser's account, wherever the organiser is
        phone=ids.local_phone(),
        email=None,
        address="",
        created=born,
    )
    history = knobs.choice(f"{FAMILY}.referrer_history", ("none", "signed_up", "kept_warm"))
    if history == "none":
        return person
    unit.add(born, "signup", person, campaign="trial_99")
    if history == "kept_warm" and sim.groups:
        sim.join_group(person, unit, born + rng.uniform(1, 3) * DAY)
        group = person.groups[-1]
        for _ in range(rng.randint(0, 2)):
            at = rng.uniform(born + DAY, max(born + DAY, start))
            claim = {CLAIM_MS: ids.human_claim_ms()}
            welfare: dict[str, Any] = {"group": group, "campaign": "weekly_welfare", "amount": 5.0}
            unit.add(at, "red_packet_claim", person, attributes=claim, **welfare)
    if rng.random() < knobs.uniform(f"{FAMILY}.referrer_paid_share", 0.0, 0.25):
        person.address = Place.home(rng).render()
        person.payment = person.payment or f"pay-{person.customer[1:]:0>12}"  # its own wallet (drawn without the RNG)
        at = born + rng.uniform(0.1, 2) * DAY
        unit.add(at, "order", person, amount=TRIAL, campaign="trial_99", address=person.address)
        unit.add(at + rng.uniform(1, 10) * MINUTE, "order_paid", person, amount=TRIAL, campaign="trial_99")
    return person


def _buyer(sim: Sim, t: float, *, local: bool) -> Person:
    rng, ids = sim.rng, sim.ids
    virtual = rng.random() < 0.1
    return Person(
        customer=ids.customer_id(),
        device=ids.device_id(),
        ip=ids.home_ip() if local else ids.remote_ip(),
        phone=local_phone(rng, virtual) if local else ids.phone(virtual=virtual),
        email=None,
        address=Place.home(rng).render(),
        created=t,
    )
