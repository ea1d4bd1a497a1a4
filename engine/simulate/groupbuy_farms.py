"""Group-buys (拼团) that pay: self-dealing groups and a 团长's farm, and a class's honest one.

The older ``multi_account_group_buy`` family fills a group from one phone and one wallet
and never comes to the studio. These pay, which is what releases a held reward:

- **self-dealing, paid** (自己拼自己): a farmer fills 3-person groups with alts on 2-4 real
  phones (home Wi-Fi or mobile data), each paying the minimum from one of a few shared
  wallets (1-4 per seed), or one payer's wallet paying for the others (代付). Some trial
  vouchers are sold on and used (a store visit releases the hold); some payments are
  refunded days later. Now and then a real buyer completes one of the groups (her events
  are an honest parent's, in the same story).
- **团长 farm**: a group leader opens a group every day or two for a week or more and
  fills it from a recurring core of alts, fresh ones (a per-seed share), and now and then
  a real friend (their events are honest parents', in the same story). The alts pay the
  minimum from the leader's few wallets (1-5 per seed), or the leader pays their orders
  herself (代付, a per-seed share of the groups); the leader's own account sits in every
  group.
- Both draw per seed how far the farmer goes to make an alt look like its own person
  (``_Kit``): a share of alts on a phone of their own instead of the farmer's main phones,
  a share typing another address than the farm's drop point; what stays is the leader
  behind every group, the few wallets, and accounts that never buy outside her groups.
- **class group-buy** (honest look-alike): parents of one class form a group from the
  share link in their class chat (the leader is the event's ``referrer``), join within
  a day, each on their own phone and wallet, some on the school's NAT at pick-up; most
  come to the studio and some buy again.

Parameters are per-seed knobs on streams of their own (``own_stream``), so adding these
families re-draws no other family's knobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.simulate.context import Sim
from engine.simulate.honest import new_person, paid_order
from engine.simulate.places import Place
from engine.simulate.timeline import DAY, FARM_HOURS, HOUR, MINUTE, PARENT_HOURS
from engine.simulate.units import HONEST, Unit
from engine.simulate.world import PAY_ACCOUNT_CUSTOMERS, Person

SELF_DEALING_PAID = "self_dealing_paid"  # 自己拼自己 on several real phones, paying the minimum
GROUP_LEADER_FARM = "group_leader_farm"  # 团长: many groups over days, a recurring core of alts
CLASS_GROUPBUY = "class_groupbuy"  # honest: a class's parents from the leader's share link

CAMPAIGN = "group_buy_69"
PRICE = 69.0


def self_dealing_paid(sim: Sim) -> Unit:
    """One farmer's groups in a day or two: alts on a few phones, paying from a few wallets."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(SELF_DEALING_PAID)
    friends = sim.unit(HONEST)  # a real buyer who completes one of the farmer's groups now and then
    t = sim.clock.moment(FARM_HOURS if rng.random() < 0.3 else PARENT_HOURS)
    most = knobs.integer("self_dealing_paid.max_phones", 2, 4, own_stream=True)
    phones = [ids.device_id() for _ in range(rng.randint(2, most))]
    home_ip = ids.home_ip()
    wifi = rng.random() < knobs.uniform("self_dealing_paid.wifi_share", 0.2, 0.8, own_stream=True)
    home = Place.home(rng)
    ship = _ship_to(sim, home, "self_dealing_paid")
    proxy_pay = rng.random() < knobs.uniform("self_dealing_paid.daifu_share", 0.2, 0.6, own_stream=True)
    wallets = [ids.wallet() for _ in range(rng.randint(1, _most_wallets(sim, "self_dealing_paid", 2, 4)))]
    visit = knobs.uniform("self_dealing_paid.voucher_resold_share", 0.2, 0.7, own_stream=True)
    refund = knobs.uniform("self_dealing_paid.refund_share", 0.0, 0.4, own_stream=True)
    kit = _Kit.draw(sim, "self_dealing_paid", phones, home_ip if wifi else None, ship)
    friend_share = knobs.uniform("self_dealing_paid.friend_share", 0.0, 0.25, own_stream=True)
    leader = _alt(sim, t, rng.choice(phones), home_ip, ship, wallets[0])
    for _ in range(_around(sim, "self_dealing_paid.groups", 1, 3)):
        group = ids.token("gb-", 32)
        members: list[tuple[Unit, Person]] = [(unit, leader)]
        for _ in range(2):
            if rng.random() < friend_share:
                members.append((friends, new_person(sim, t)))
            else:
                members.append((unit, kit.alt(sim, t, rng.choice(wallets))))
        joined = t
        for index, (story, member) in enumerate(members):
            joined += rng.uniform(1, 40) * MINUTE
            if story is unit and index and member.created >= t:
                joined = _sign_up(sim, unit, member, joined)
            story.add(joined, "group_buy_join", member, group=group, campaign=CAMPAIGN, address=member.address,
                      referrer=leader.customer if index else None)  # fmt: skip
            if story is friends:
                paid_order(sim, friends, member, joined + rng.uniform(1, 30) * MINUTE, PRICE, campaign=CAMPAIGN)
                member.paid = True
        payer = leader.payment if proxy_pay else None
        alts = [m for s, m in members if s is unit]
        _pay_and_after(sim, unit, alts, joined, payer=payer, visit=visit, refund=refund)
        t = sim.clock.daytime_after(joined, 1 * HOUR, 1.5 * DAY)
    unit.drafts.extend(friends.drafts)  # one story, two truths: each draft keeps its own
    return unit


def group_leader_farm(sim: Sim) -> Unit:
    """A 团长 opens a group every day or two and fills it from a recurring core of alts."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(GROUP_LEADER_FARM)
    friends = sim.unit(HONEST)  # real friends the leader pulls in now and then
    t = sim.clock.start + rng.uniform(0, 0.4) * sim.clock.days * DAY
    home_ip = ids.home_ip()
    home = Place.home(rng)
    ship = _ship_to(sim, home, "group_leader_farm")
    wallets = [ids.wallet() for _ in range(rng.randint(1, _most_wallets(sim, "group_leader_farm", 3, 5)))]
    phones = [ids.device_id() for _ in range(rng.randint(2, 4))]
    leader = _alt(sim, t, phones[0], home_ip, ship, wallets[0])
    kit = _Kit.draw(sim, "group_leader_farm", phones, None, ship)
    core = [kit.alt(sim, t, rng.choice(wallets))
            for _ in range(knobs.integer("group_leader_farm.core_alts", 3, 6, own_stream=True))]  # fmt: skip
    for alt in core:
        t = _sign_up(sim, unit, alt, t + rng.uniform(2, 30) * MINUTE)
    visit = knobs.uniform("group_leader_farm.voucher_resold_share", 0.2, 0.6, own_stream=True)
    friend_share = knobs.uniform("group_leader_farm.friend_share", 0.1, 0.35, own_stream=True)
    fresh_share = knobs.uniform("group_leader_farm.fresh_alt_share", 0.2, 0.7, own_stream=True)
    leader_pays = knobs.uniform("group_leader_farm.leader_pays_share", 0.0, 0.6, own_stream=True)
    for _ in range(_around(sim, "group_leader_farm.groups", 4, 10, spread=0.3)):
        group = ids.token("gb-", 32)
        t = sim.clock.daytime_after(t, 6 * HOUR, 2 * DAY)
        unit.add(t, "group_buy_join", leader, group=group, campaign=CAMPAIGN, address=leader.address)
        members: list[tuple[Unit, Person]] = []
        for _ in range(2):
            if rng.random() < friend_share:
                members.append((friends, new_person(sim, t)))
            elif rng.random() >= fresh_share:
                members.append((unit, rng.choice(core)))
            else:
                members.append((unit, kit.alt(sim, t, rng.choice(wallets))))
        joined = t
        for story, member in members:
            joined += rng.uniform(2, 90) * MINUTE
            if story is unit and member.created >= t:
                joined = _sign_up(sim, unit, member, joined)
            story.add(joined, "group_buy_join", member, group=group, campaign=CAMPAIGN, address=member.address,
                      referrer=leader.customer)  # fmt: skip
            if story is friends:
                paid_order(sim, friends, member, joined + rng.uniform(1, 30) * MINUTE, PRICE, campaign=CAMPAIGN)
                member.paid = True
        alts = [leader] + [m for s, m in members if s is unit]
        payer = leader.payment if rng.random() < leader_pays else None  # 代付: the leader pays her alts' orders
        _pay_and_after(sim, unit, alts, joined, payer=payer, visit=visit, refund=0.1)
    unit.drafts.extend(friends.drafts)  # one story, two truths: each draft keeps its own
    return unit


def class_groupbuy(sim: Sim) -> Unit:
    """Parents of one class join a 拼团 from the share link in their class chat."""
    rng, knobs = sim.rng, sim.knobs
    unit = sim.unit(HONEST, CLASS_GROUPBUY)
    t = sim.clock.start + rng.randrange(sim.clock.days) * DAY + rng.uniform(15.5, 21) * HOUR
    school_nat = sim.ids.home_ip()
    leader = sim.existing_before(t) if rng.random() < 0.6 else new_person(sim, t)
    nat_share = knobs.uniform("class_groupbuy.school_nat_share", 0.1, 0.5, own_stream=True)
    for _ in range(_around(sim, "class_groupbuy.groups", 1, 3)):
        group = sim.ids.token("gb-", 32)
        unit.add(t, "group_buy_join", leader, group=group, campaign=CAMPAIGN, address=leader.address)
        joined = t
        for _ in range(2):
            joined = sim.clock.daytime_after(joined, 2 * MINUTE, 10 * HOUR)
            parent = new_person(sim, joined)
            at_school = rng.random() < nat_share
            ip = school_nat if at_school else None
            if rng.random() < 0.5:
                unit.add(joined, "signup", parent, campaign=CAMPAIGN, referrer=leader.customer, ip=ip)
                joined += rng.uniform(30, 300)
            unit.add(joined, "group_buy_join", parent, group=group, campaign=CAMPAIGN, address=parent.address,
                     referrer=leader.customer, ip=ip)  # fmt: skip
            paid_order(sim, unit, parent, joined + rng.uniform(2, 60) * MINUTE, PRICE, campaign=CAMPAIGN)
            parent.paid = True
            if rng.random() < 0.35:  # back for prints or the package
                paid_order(sim, unit, parent, sim.clock.daytime_after(joined, 4 * DAY, 12 * DAY), 299.0)
        if not leader.paid:
            paid_order(sim, unit, leader, joined + rng.uniform(2, 60) * MINUTE, PRICE, campaign=CAMPAIGN)
            leader.paid = True
        t = sim.clock.daytime_after(joined, 1 * DAY, 4 * DAY)
    return unit


# -- the harder variant (session 14, ``--family-set groupbuys_varied``) ------------------------
# The same tactic with what a farmer can vary drawn per seed, on streams of their own: the group
# size (3-5), how many phones he has (1-6) and how many alts get a spare phone of their own, the
# pause between joins (seconds to hours: a median per seed, lognormal around it), whether the join
# names a leader (a share of the groups are opened by another alt, or the link loses its
# referrer), how many wallets, how often the drop point is typed as another flat. What stays is
# the tactic: the same few phones, wallets and flat behind group after group over days, accounts
# that join only these groups. Its look-alike: a compound's group-buy (neighbours), one mum who
# opens a group every few days for her building's neighbours, each on her own phone, to her own
# flat in the same compound, some on the compound's shared Wi-Fi.
SELF_DEALING_VARIED = "self_dealing_varied"
GROUP_LEADER_VARIED = "group_leader_varied"
NEIGHBOURS_GROUPBUY = "neighbours_groupbuy"


def _varied_kit(sim: Sim, family: str) -> dict[str, Any]:
    knobs = sim.knobs
    low = knobs.integer(f"{family}.size_low", 3, 4, own_stream=True)
    return {
        "size": (low, max(low, knobs.integer(f"{family}.size_high", 3, 5, own_stream=True))),
        "phones": knobs.integer(f"{family}.phones", 1, 6, own_stream=True),
        "gap": knobs.uniform(f"{family}.join_gap_median_min", 0.3, 180.0, own_stream=True) * MINUTE,
        "named": knobs.uniform(f"{family}.leader_named_share", 0.0, 1.0, own_stream=True),
        "wallets": knobs.integer(f"{family}.wallets", 1, 5, own_stream=True),
        "visit": knobs.uniform(f"{family}.voucher_resold_share", 0.1, 0.7, own_stream=True),
    }


def _fill_group(sim: Sim, unit: Unit, kit: _Kit, knob: dict[str, Any], t: float, leader: Person,
                members: list[Person], group: str) -> float:  # fmt: skip
    """The leader's join and her alts' one after another (the seed's pause), each paying the minimum."""
    rng = sim.rng
    named = rng.random() < knob["named"]
    unit.add(t, "group_buy_join", leader, group=group, campaign=CAMPAIGN, address=leader.address)
    joined = t
    for member in members:
        joined += min(12 * HOUR, knob["gap"] * rng.lognormvariate(0, 0.8))
        if member.created >= t:
            joined = _sign_up(sim, unit, member, joined)
        unit.add(joined, "group_buy_join", member, group=group, campaign=CAMPAIGN, address=member.address,
                 referrer=leader.customer if named else None)  # fmt: skip
    _pay_and_after(sim, unit, [leader, *members], joined, payer=None, visit=knob["visit"], refund=0.1)
    return joined


def self_dealing_varied(sim: Sim) -> Unit:
    """自己拼自己 with the seed's group size, phones, pauses and wallets; a new alt opens each group now and then."""
    rng, ids = sim.rng, sim.ids
    unit = sim.unit(SELF_DEALING_VARIED)
    knob = _varied_kit(sim, SELF_DEALING_VARIED)
    t = sim.clock.moment(FARM_HOURS if rng.random() < 0.3 else PARENT_HOURS)
    phones = [ids.device_id() for _ in range(knob["phones"])]
    wallets = [ids.wallet() for _ in range(rng.randint(1, knob["wallets"]))]
    ship = _ship_to(sim, Place.home(rng), SELF_DEALING_VARIED)
    kit = _Kit.draw(sim, SELF_DEALING_VARIED, phones, ids.home_ip() if rng.random() < 0.5 else None, ship)
    leader = kit.alt(sim, t, wallets[0])
    for _ in range(_around(sim, f"{SELF_DEALING_VARIED}.groups", 2, 5)):
        if rng.random() < 0.3:  # another alt opens this one
            leader = kit.alt(sim, t, rng.choice(wallets))
            t = _sign_up(sim, unit, leader, t)
        members = [kit.alt(sim, t, rng.choice(wallets)) for _ in range(rng.randint(*knob["size"]) - 1)]
        joined = _fill_group(sim, unit, kit, knob, t, leader, members, ids.token("gb-", 32))
        t = sim.clock.daytime_after(joined, 1 * HOUR, 2 * DAY)
    return unit


def group_leader_varied(sim: Sim) -> Unit:
    """A 团长's farm over one to three weeks: the seed's core of alts, group size, pauses and phones."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(GROUP_LEADER_VARIED)
    knob = _varied_kit(sim, GROUP_LEADER_VARIED)
    t = sim.clock.start + rng.uniform(0, 0.4) * sim.clock.days * DAY
    phones = [ids.device_id() for _ in range(knob["phones"])]
    wallets = [ids.wallet() for _ in range(rng.randint(1, knob["wallets"]))]
    kit = _Kit.draw(sim, GROUP_LEADER_VARIED, phones, None, _ship_to(sim, Place.home(rng), GROUP_LEADER_VARIED))
    leader = kit.alt(sim, t, wallets[0])
    core = [kit.alt(sim, t, rng.choice(wallets))
            for _ in range(knobs.integer(f"{GROUP_LEADER_VARIED}.core_alts", 2, 8, own_stream=True))]  # fmt: skip
    for alt in core:
        t = _sign_up(sim, unit, alt, t + rng.uniform(2, 600) * MINUTE)
    fresh = knobs.uniform(f"{GROUP_LEADER_VARIED}.fresh_alt_share", 0.1, 0.8, own_stream=True)
    for _ in range(_around(sim, f"{GROUP_LEADER_VARIED}.groups", 3, 10, spread=0.3)):
        t = sim.clock.daytime_after(t, 6 * HOUR, 3 * DAY)
        size = rng.randint(*knob["size"]) - 1
        members = [kit.alt(sim, t, rng.choice(wallets)) if rng.random() < fresh else rng.choice(core)
                   for _ in range(size)]  # fmt: skip
        members = list({m.customer: m for m in members}.values())  # one account once per group
        t = _fill_group(sim, unit, kit, knob, t, leader, members, ids.token("gb-", 32))
    return unit


def neighbours_groupbuy(sim: Sim) -> Unit:
    """Honest: a compound's mum opens a group every few days; each neighbour joins once, her own phone and flat."""
    rng = sim.rng
    unit = sim.unit(HONEST, NEIGHBOURS_GROUPBUY)
    t = sim.clock.start + rng.randrange(max(1, sim.clock.days - 3)) * DAY + rng.uniform(9, 20) * HOUR
    compound = Place.home(rng)
    wifi = sim.ids.home_ip()  # the compound's shared broadband some neighbours are on
    leader = sim.existing_before(t) if rng.random() < 0.7 else new_person(sim, t)
    for _ in range(_around(sim, f"{NEIGHBOURS_GROUPBUY}.groups", 2, 5)):
        group = sim.ids.token("gb-", 32)
        unit.add(t, "group_buy_join", leader, group=group, campaign=CAMPAIGN, address=leader.address)
        joined = t
        for _ in range(rng.randint(2, 4)):
            joined = sim.clock.daytime_after(joined, 1 * MINUTE, 8 * HOUR)
            neighbour = new_person(sim, joined)
            neighbour.place = Place(compound.district, compound.road, compound.number, rng.randrange(1, 30),
                                    None, rng.randrange(101, 2805))  # fmt: skip
            neighbour.address = neighbour.place.render(rng)
            ip = wifi if rng.random() < 0.3 else None
            unit.add(joined, "group_buy_join", neighbour, group=group, campaign=CAMPAIGN,
                     address=neighbour.address, referrer=leader.customer, ip=ip)  # fmt: skip
            paid_order(sim, unit, neighbour, joined + rng.uniform(2, 90) * MINUTE, PRICE, campaign=CAMPAIGN)
            neighbour.paid = True
        if not leader.paid:
            paid_order(sim, unit, leader, joined + rng.uniform(2, 60) * MINUTE, PRICE, campaign=CAMPAIGN)
            leader.paid = True
        t = sim.clock.daytime_after(joined, 2 * DAY, 5 * DAY)
    return unit


def _around(sim: Sim, name: str, low: int, high: int, spread: float = 0.5) -> int:
    """``Knobs.around`` with the seed's value drawn on the name's own stream (no other knob moves)."""
    sim.knobs.integer(name, low, high, own_stream=True)
    return sim.knobs.around(sim.rng, name, low, high, spread)


def _most_wallets(sim: Sim, family: str, low: int, high: int) -> int:
    """The seed's largest number of wallets a farmer pays from (a spouse's, a parent's, a second card)."""
    return sim.knobs.integer(f"{family}.max_wallets", low, high, own_stream=True)


@dataclass(frozen=True, slots=True)
class _Kit:
    """How a farmer makes one more alt look like its own person, drawn per seed.

    ``own_phone``: the share of alts on a phone of their own (a spare from the drawer, a relative's
    old one) instead of one of the farmer's main phones; ``own_address``: the share that types
    another address (a relative's, an office) instead of the farm's drop point; ``line``: the
    farmer's home Wi-Fi when the alts use it, else each alt on mobile data.
    """

    phones: list[str]
    line: str | None
    ship: Place
    own_phone: float
    own_address: float

    @classmethod
    def draw(cls, sim: Sim, family: str, phones: list[str], line: str | None, ship: Place) -> _Kit:
        knobs = sim.knobs
        own_phone = knobs.uniform(f"{family}.own_phone_share", 0.0, 0.8, own_stream=True)
        own_address = knobs.uniform(f"{family}.own_address_share", 0.0, 0.5, own_stream=True)
        return cls(phones, line, ship, own_phone, own_address)

    def alt(self, sim: Sim, t: float, wallet: str) -> Person:
        rng, ids = sim.rng, sim.ids
        device = ids.device_id() if rng.random() < self.own_phone else rng.choice(self.phones)
        ship = Place.home(rng) if rng.random() < self.own_address else self.ship
        return _alt(sim, t, device, self.line or ids.mobile_ip(), ship, wallet)


def _alt(sim: Sim, t: float, device: str, ip: str, ship: Place, wallet: str) -> Person:
    """A farmer's account: its own number, a phone of the farmer's, the farm's delivery point."""
    person = sim.ids.honest_person(created=t)
    person.device, person.ip, person.payment, person.place = device, ip, wallet, ship
    person.address = ship.render(sim.rng)
    return person


def _ship_to(sim: Sim, home: Place, family: str) -> Place:
    """The farmer's home (typed several ways) or a parcel locker."""
    if sim.rng.random() < sim.knobs.uniform(f"{family}.locker_share", 0.1, 0.5, own_stream=True):
        return Place.locker(sim.rng)
    return home


def _sign_up(sim: Sim, unit: Unit, person: Person, t: float) -> float:
    """The alt's sign-up (it takes the newcomer trial too) seconds before it joins."""
    unit.add(t, "signup", person, campaign=CAMPAIGN)
    return t + sim.rng.uniform(20, 180)


def _pay_and_after(
    sim: Sim, unit: Unit, members: list[Person], t: float, *, payer: str | None, visit: float, refund: float
) -> None:
    """Each alt pays the minimum (from a shared wallet or the 代付 payer's); then a resold visit or a refund."""
    rng = sim.rng
    for member in members:
        t += rng.uniform(1, 15) * MINUTE
        wallet = payer or member.payment
        unit.add(t, "order", member, amount=PRICE, campaign=CAMPAIGN, address=member.address, payment=wallet,
                 attributes={PAY_ACCOUNT_CUSTOMERS: 1})  # fmt: skip
        paid = t + rng.uniform(20, 300)
        unit.add(paid, "order_paid", member, amount=PRICE, campaign=CAMPAIGN)
        member.paid = True
        if rng.random() < visit:  # the voucher sold on: a stranger takes the session under this account
            unit.add(sim.clock.daytime_after(paid, DAY, 8 * DAY), "store_visit", customer=member.customer,
                     campaign=CAMPAIGN)  # fmt: skip
        elif rng.random() < refund:
            unit.add(sim.clock.daytime_after(paid, 2 * DAY, 6 * DAY), "refund", member, amount=PRICE,
                     campaign=CAMPAIGN)  # fmt: skip


#: Registered in engine/simulate/generate.py: attack families and the honest look-alike.
ABUSE_UNITS = {SELF_DEALING_PAID: self_dealing_paid, GROUP_LEADER_FARM: group_leader_farm}
LOOKALIKE_UNITS = {CLASS_GROUPBUY: class_groupbuy}
#: Families whose stories carry honest events too (the 团长's real friends).
MIXED_STORIES = frozenset({SELF_DEALING_PAID, GROUP_LEADER_FARM})
ABUSE_SHARES = {SELF_DEALING_PAID: 0.012, GROUP_LEADER_FARM: 0.012}
LOOKALIKE_SHARES = {CLASS_GROUPBUY: 0.012}
#: ``--family-set groupbuys_varied``: the harder variant and its look-alike (with the first set's).
VARIED_ABUSE_UNITS = {SELF_DEALING_VARIED: self_dealing_varied, GROUP_LEADER_VARIED: group_leader_varied}
VARIED_LOOKALIKE_UNITS = {NEIGHBOURS_GROUPBUY: neighbours_groupbuy}
VARIED_ABUSE_SHARES = {SELF_DEALING_VARIED: 0.012, GROUP_LEADER_VARIED: 0.012}
VARIED_LOOKALIKE_SHARES = {NEIGHBOURS_GROUPBUY: 0.015}
