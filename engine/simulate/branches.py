"""A merchant with branches, and the farmer who takes every branch's newcomer offer (branch stacking).

The studio has a few branches; a storefront says which one an event belongs to in the
``branch`` attribute (docs/api.md, "Branches"). Each branch runs its newcomer offer (the
99-yuan trial, the 30-yuan newcomer gift), and the branches' mini-program pages create
branch-local customer ids, so "one newcomer reward per person" is only true across
branches if the person is recognised by what they keep using.

- branch stacking (attack): one person takes the newcomer trial and gift at two or three
  branches within days, as a new customer id at each: on one phone number, on one
  phone with a rented number per branch, or under the same customer id; the trials paid
  from one wallet. What the trade varies, each a per-seed knob: the style, how many
  branches, days between them, whether the person comes for the sessions.
- a family that uses two branches (honest): one parent signs up at the branch near home
  and takes its newcomer offer; the other parent, on their own phone, at the branch near
  work. Same home, same Wi-Fi, sometimes one wallet; each comes for their own child's
  session. Sometimes the same parent just books at the other branch (no new sign-up).
- a customer who moved house (honest): an old customer of one branch signs up at the
  branch near the new home months later, with the number they always had.
"""

from __future__ import annotations

from engine.simulate.checkout import newcomer_claim
from engine.simulate.context import Sim
from engine.simulate.honest import journey, new_person, paid_order
from engine.simulate.timeline import DAY, HOUR, MINUTE
from engine.simulate.units import BRANCH_STACKING, HONEST, TWO_BRANCH_FAMILY, Unit
from engine.simulate.world import BRANCH, USER_AGENT, Person

BRANCHES = ("wangjing", "guomao", "tongzhou")
STYLES = ("one_number", "one_phone_rented_numbers", "one_account")


def branch_stacking(sim: Sim) -> Unit:
    """One person takes the newcomer trial and gift at each branch, under a new id at each."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(BRANCH_STACKING)
    style = (
        rng.choice(STYLES)
        if rng.random() < 0.5
        else STYLES[knobs.integer(f"{BRANCH_STACKING}.style", 0, 2, own_stream=True)]
    )
    count = 3 if rng.random() < knobs.uniform(f"{BRANCH_STACKING}.three_branch_share", 0.2, 0.7, own_stream=True) else 2
    gap_days = knobs.uniform(f"{BRANCH_STACKING}.days_between", 0.05, 4.0, own_stream=True)
    visits = knobs.uniform(f"{BRANCH_STACKING}.session_share", 0.0, 0.6, own_stream=True)  # comes for the sessions
    pays = knobs.uniform(f"{BRANCH_STACKING}.pay_share", 0.3, 0.9, own_stream=True)
    t = sim.clock.moment()
    person = ids.honest_person(created=t)
    account = person
    for index, branch in enumerate(rng.sample(BRANCHES, k=count)):
        if index:
            t = sim.clock.daytime_after(t, 10 * MINUTE, max(20 * MINUTE, gap_days * 2 * DAY))
            account = _next_account(sim, person, style, t)
        where = {BRANCH: branch}
        if index == 0 or style != "one_account":
            unit.add(t, "signup", account, campaign="trial_99", attributes={USER_AGENT: ids.user_agent(), **where})
        newcomer_claim(sim, unit, account, t + rng.uniform(0.5, 20) * MINUTE, t, **where)
        if rng.random() < pays:
            paid_at = sim.clock.daytime_after(t, 10 * MINUTE, DAY)
            _trial(sim, unit, account, paid_at, branch, visit=rng.random() < visits)
    return unit


def _next_account(sim: Sim, person: Person, style: str, t: float) -> Person:
    """The account the person uses at the next branch: a new id, sharing what the style keeps."""
    if style == "one_account":
        return person
    ids = sim.ids
    account = Person(
        customer=ids.customer_id(),
        device=person.device,
        ip=person.ip if sim.rng.random() < 0.5 else ids.mobile_ip(),
        phone=person.phone if style == "one_number" else ids.phone(virtual=sim.rng.random() < 0.3),
        email=None,
        address=person.address,
        created=t,
        payment=person.payment,  # the trials are paid from the person's one wallet
        place=person.place,
    )
    return account


def _trial(sim: Sim, unit: Unit, account: Person, t: float, branch: str, *, visit: bool) -> None:
    where = {BRANCH: branch}
    unit.add(t, "order", account, amount=99.0, campaign="trial_99", address=account.address, attributes=where)
    unit.add(t + sim.rng.uniform(1, 10) * MINUTE, "order_paid", account, amount=99.0, campaign="trial_99")
    if visit:
        at = sim.clock.daytime_after(t, DAY, 6 * DAY)
        unit.add(at, "store_visit", customer=account.customer, campaign="trial_99", attributes=where)


def two_branch_family(sim: Sim) -> Unit:
    """A family using two branches: each parent on their own phone, or an old customer who moved."""
    rng = sim.rng
    unit = sim.unit(HONEST, TWO_BRANCH_FAMILY)
    if rng.random() < sim.knobs.uniform(f"{TWO_BRANCH_FAMILY}.moved_share", 0.1, 0.4, own_stream=True) and sim.members:
        _moved(sim, unit)
        return unit
    near_home, near_work = rng.sample(BRANCHES, k=2)
    t = sim.clock.moment()
    mother = new_person(sim, t)
    unit.add(t, "signup", mother, campaign="trial_99", attributes={USER_AGENT: sim.ids.user_agent(), BRANCH: near_home})
    newcomer_claim(sim, unit, mother, t + rng.uniform(1, 30) * MINUTE, t, **{BRANCH: near_home})
    paid_order(sim, unit, mother, sim.clock.daytime_after(t, HOUR, 3 * DAY), 99.0, "trial_99")
    mother.paid = True
    later = sim.clock.daytime_after(t, HOUR, 6 * DAY)
    if rng.random() < 0.4:  # the same parent books prints at the other branch: no new sign-up
        unit.add(later, "order", mother, amount=299.0, address=mother.address, attributes={BRANCH: near_work})
        unit.add(later + rng.uniform(1, 10) * MINUTE, "order_paid", mother, amount=299.0)
        return unit
    father = new_person(sim, later)
    father.address, father.place = mother.address, mother.place
    if rng.random() < 0.5:
        father.payment = mother.payment  # one family wallet
    if rng.random() < 0.5:
        father.ip = mother.ip  # signs up from home
    signup = {USER_AGENT: sim.ids.user_agent(), BRANCH: near_work}
    unit.add(later, "signup", father, campaign="trial_99", attributes=signup)
    newcomer_claim(sim, unit, father, later + rng.uniform(1, 30) * MINUTE, later, **{BRANCH: near_work})
    journey(sim, unit, father, later, buy_rate=0.8)
    return unit


def _moved(sim: Sim, unit: Unit) -> None:
    """An old customer (from before the window) signs up at the branch near the new home."""
    rng = sim.rng
    t = sim.clock.moment()
    old = sim.existing_before(t)
    moved = sim.ids.honest_person(created=t)
    moved.phone, moved.email = old.phone, old.email  # the number they always had, a new branch-local id
    sim.newcomers.append(moved)
    branch = rng.choice(BRANCHES)
    unit.add(t, "signup", moved, campaign="trial_99", attributes={USER_AGENT: sim.ids.user_agent(), BRANCH: branch})
    if rng.random() < 0.5:
        newcomer_claim(sim, unit, moved, t + rng.uniform(1, 30) * MINUTE, t, **{BRANCH: branch})
    paid_order(sim, unit, moved, sim.clock.daytime_after(t, HOUR, 4 * DAY), 99.0, "trial_99")
    moved.paid = True


BRANCH_UNITS = {BRANCH_STACKING: branch_stacking}
BRANCH_LOOKALIKES = {TWO_BRANCH_FAMILY: two_branch_family}
