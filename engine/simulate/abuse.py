"""Injected abuse, each kind the way DOMAIN.md describes it, with its own ground truth.

- farming ring (羊毛党): dozens of accounts on a few emulators or farm phones behind one
  data-centre /24, virtual-operator numbers and throw-away mailboxes, grabbing the
  newcomer gift, red packets and group-buys, never paying.
- fake referral burst (刷邀请): one referrer, a dozen to forty invitees within minutes
  from one device, a few devices on one IP, or spoofed device ids on one subnet; none buy.
- red-packet bot (抢红包脚本): a few accounts hopping parent groups and tapping red
  packets faster than a person can (``claim_ms``), a careful minority with jitter.
- multi-account group-buy (自己拼自己): one person fills a 3-person group-buy with their
  own extra accounts on the same phone, or on several phones on the same Wi-Fi (or mobile
  data), shipping to one home typed several ways and paying from one wallet.

The newer families (shared back end, slow drip, aged accounts, pay-release-refund, campaign
scripts, code resale, referral trees) live in :mod:`engine.simulate.farms`,
:mod:`engine.simulate.campaigns` and :mod:`engine.simulate.resale`.
"""

from __future__ import annotations

from engine.simulate import campaigns, farms, hired_buyers, resale
from engine.simulate.context import Sim
from engine.simulate.timeline import DAY, FARM_HOURS, MINUTE
from engine.simulate.units import (
    AGED_CASHOUT,
    CAMPAIGN_SCRIPT,
    CODE_RESALE,
    FAKE_REFERRAL_BURST,
    FARMING_RING,
    MULTI_ACCOUNT_GROUP_BUY,
    PAY_RELEASE_REFUND,
    RED_PACKET_BOT,
    REFERRAL_TREE,
    SHARED_BACKEND,
    SLOW_DRIP,
    Unit,
)
from engine.simulate.world import (
    AUTOMATION,
    CLAIM_MS,
    EMULATOR,
    PAY_ACCOUNT_CUSTOMERS,
    PROXY,
    ROOTED,
    SCRIPT_UAS,
    SECONDS_SINCE_SIGNUP,
    USER_AGENT,
    Person,
)

DROP_POINTS = ("幸福路88号菜鸟驿站代收点", "建国路12号快递柜", "北苑路丰巢柜7号")


def farming_ring(sim: Sim) -> Unit:
    """One farm's session: accounts created one after another, each grabbing what it can."""
    rng, ids = sim.rng, sim.ids
    unit = sim.unit(FARMING_RING)
    devices = [ids.device_id() for _ in range(rng.randint(2, 5))]
    emulated = rng.random() < 0.6
    subnet = ids.idc_subnet()
    exits = [f"{subnet}.{rng.randrange(2, 250)}" for _ in range(rng.randint(1, 6))]
    virtual_share, disposable_share = rng.uniform(0.5, 0.95), rng.uniform(0.2, 0.8)
    drop_point = rng.choice(DROP_POINTS) if rng.random() < 0.5 else ids.address()
    groups = rng.sample(list(sim.groups), k=min(len(sim.groups), rng.randint(1, 4)))
    flags: dict[str, bool | str] = {
        EMULATOR: emulated,
        PROXY: rng.random() < 0.4,
        ROOTED: not emulated and rng.random() < 0.5,
    }
    t = sim.clock.moment(FARM_HOURS)
    pending_group: list[Person] = []
    for _ in range(rng.randint(12, 45)):
        t += rng.uniform(20, 240)
        account = Person(
            customer=ids.customer_id(),
            device=rng.choice(devices),
            ip=rng.choice(exits),
            phone=ids.phone(virtual=rng.random() < virtual_share),
            email=ids.farm_email(rng.random() < disposable_share) if rng.random() < 0.8 else None,
            address=drop_point,
            created=t,
        )
        unit.add(t, "signup", account, campaign="newcomer_gift", attributes=dict(flags))
        claim_at = t + rng.uniform(3, 40)
        unit.add(
            claim_at,
            "coupon_claim",
            account,
            campaign="newcomer_gift",
            amount=30.0,
            coupon=ids.token("cp"),
            attributes={**flags, SECONDS_SINCE_SIGNUP: int(claim_at - t)},
        )
        if rng.random() < 0.6:
            at = claim_at + rng.uniform(1, 180) * MINUTE
            claim_ms = ids.human_claim_ms() if rng.random() < 0.6 else ids.bot_claim_ms(careful=True)
            unit.add(
                at,
                "red_packet_claim",
                account,
                group=rng.choice(groups),
                campaign="weekly_welfare",
                amount=5.0,
                attributes={**flags, CLAIM_MS: claim_ms, SECONDS_SINCE_SIGNUP: int(at - t)},
            )
        if rng.random() < 0.3:
            pending_group.append(account)
            if len(pending_group) == 3:
                _self_dealt_group(sim, unit, pending_group, claim_at + rng.uniform(1, 10) * MINUTE, flags)
                pending_group = []
    return unit


def _self_dealt_group(sim: Sim, unit: Unit, accounts: list[Person], t: float, flags: dict[str, bool | str]) -> None:
    group = sim.ids.token("gb-", 32)
    for account in accounts:
        t += sim.rng.uniform(5, 90)
        unit.add(
            t,
            "group_buy_join",
            account,
            group=group,
            campaign="group_buy_69",
            address=account.address,
            attributes=dict(flags),
        )


def fake_referral_burst(sim: Sim) -> Unit:
    """One referrer's poster 'shared' to a farm: invitees every few seconds, none ever pay."""
    rng, ids = sim.rng, sim.ids
    unit = sim.unit(FAKE_REFERRAL_BURST)
    t = sim.clock.moment(FARM_HOURS)
    referrer = Person(
        customer=ids.customer_id(),
        device=ids.device_id(),
        ip=ids.remote_ip(),
        phone=ids.phone(),
        email=None,
        address=ids.address(),
        created=t - rng.uniform(3, 60) * DAY,
    )
    style = rng.choices(("one_device", "few_devices", "spoofed_ids"), weights=(0.4, 0.3, 0.3))[0]
    if style == "one_device":
        devices, exits = [referrer.device if rng.random() < 0.5 else ids.device_id()], [ids.remote_ip()]
    elif style == "few_devices":
        devices, exits = [ids.device_id() for _ in range(rng.randint(2, 3))], [ids.remote_ip() for _ in range(2)]
    else:
        base = ids.remote_ip().rsplit(".", 1)[0]
        devices, exits = [], [f"{base}.{rng.randrange(2, 250)}" for _ in range(rng.randint(1, 3))]
    if referrer.device in devices:  # the referrer works the farm from their own phone
        unit.add(
            t - rng.uniform(2, 30) * MINUTE,
            "coupon_claim",
            referrer,
            campaign="newcomer_gift",
            amount=30.0,
            coupon=ids.token("cp"),
        )
    virtual_share = rng.uniform(0.0, 0.9)
    for _ in range(rng.randint(10, 40)):
        t += rng.uniform(10, 100)
        invitee = Person(
            customer=ids.customer_id(),
            device=rng.choice(devices) if devices else ids.device_id(),
            ip=rng.choice(exits),
            phone=ids.phone(virtual=rng.random() < virtual_share),
            email=ids.farm_email(rng.random() < 0.4) if rng.random() < 0.5 else None,
            address=ids.address(),
            created=t,
        )
        unit.add(t, "referral", invitee, referrer=referrer.customer, campaign="trial_99")
        if rng.random() < 0.4:
            claim_at = t + rng.uniform(5, 120)
            unit.add(
                claim_at,
                "coupon_claim",
                invitee,
                campaign="newcomer_gift",
                amount=30.0,
                coupon=ids.token("cp"),
                attributes={SECONDS_SINCE_SIGNUP: int(claim_at - t)},
            )
    return unit


def red_packet_bot(sim: Sim) -> Unit:
    """A script with a few accounts that sits in several groups and taps every red packet."""
    rng, ids = sim.rng, sim.ids
    unit = sim.unit(RED_PACKET_BOT)
    careful = rng.random() < 0.25
    shared_device = rng.random() < 0.5
    device = ids.device_id()
    ip = f"{ids.idc_subnet()}.{rng.randrange(2, 250)}" if rng.random() < 0.5 else ids.mobile_ip(anywhere=True)
    accounts = [
        Person(
            customer=ids.customer_id(),
            device=device if shared_device else ids.device_id(),
            ip=ip,
            phone=ids.phone(virtual=rng.random() < 0.5),
            email=None,
            address=ids.address(),
            created=sim.clock.start - rng.uniform(1, 90) * DAY,
        )
        for _ in range(rng.randint(2, 8))
    ]
    groups = set(rng.sample(list(sim.groups), k=min(len(sim.groups), rng.randint(3, 8))))
    start = sim.clock.moment()
    until = start + rng.uniform(0.5, 3) * DAY
    flags: dict[str, bool | str] = {AUTOMATION: rng.random() < 0.4}
    if rng.random() < 0.3:
        flags[USER_AGENT] = rng.choice(SCRIPT_UAS)
    drops = [(t, g) for t, g in sim.drops if g in groups and start <= t < until] or _own_drops(
        sim, groups, start, until
    )
    for dropped_at, group in drops:
        for account in accounts:
            claim_ms = ids.bot_claim_ms(careful)
            unit.add(
                dropped_at + claim_ms / 1000,
                "red_packet_claim",
                account,
                group=group,
                campaign="weekly_welfare",
                amount=5.0,
                attributes={**flags, CLAIM_MS: claim_ms},
            )
    return unit


def _own_drops(sim: Sim, groups: set[str], start: float, until: float) -> list[tuple[float, str]]:
    """Red packets in the bot's groups when no honest drop fell in its active hours."""
    return sorted((sim.rng.uniform(start, until), group) for group in sorted(groups))


def multi_account_group_buy(sim: Sim) -> Unit:
    """A parent fills a 3-person group-buy with two extra accounts of their own."""
    rng, ids = sim.rng, sim.ids
    unit = sim.unit(MULTI_ACCOUNT_GROUP_BUY)
    t = sim.clock.moment()
    owner = ids.honest_person(created=t)
    same_phone = rng.random() < 0.5
    group = ids.token("gb-", 32)
    members = [owner]
    typed = rng.random() < sim.knobs.uniform("multi_account_group_buy.retyped_share", 0.2, 0.8)
    for _ in range(2):
        alt = ids.honest_person(created=t)
        alt.place, alt.payment = owner.place, owner.payment  # one home, one wallet pays all three
        alt.address = owner.place.render(rng) if typed and owner.place else owner.address
        alt.ip = owner.ip if rng.random() < 0.7 else ids.mobile_ip()  # sometimes on mobile data
        if same_phone:
            alt.device = owner.device
        members.append(alt)
    for index, member in enumerate(members):
        t += rng.uniform(0.5, 10) * MINUTE
        attributes: dict[str, int] = {}
        if index and rng.random() < 0.6:
            unit.add(t, "signup", member, campaign="group_buy_69")
            attributes[SECONDS_SINCE_SIGNUP] = int(rng.uniform(15, 120))
            t += attributes[SECONDS_SINCE_SIGNUP]
        unit.add(
            t,
            "group_buy_join",
            member,
            group=group,
            campaign="group_buy_69",
            address=member.address,
            attributes=attributes,
        )
    paid_at = t + rng.uniform(1, 20) * MINUTE
    for member in members:
        paid_at += rng.uniform(20, 120)
        unit.add(
            paid_at,
            "order",
            member,
            amount=69.0,
            campaign="group_buy_69",
            address=member.address,
            attributes={PAY_ACCOUNT_CUSTOMERS: 3},  # at least: the wallet count fills in the rest
        )
        unit.add(paid_at + rng.uniform(30, 300), "order_paid", member, amount=69.0, campaign="group_buy_69")
    return unit


ABUSE_UNITS = {
    FARMING_RING: farming_ring,
    FAKE_REFERRAL_BURST: fake_referral_burst,
    RED_PACKET_BOT: red_packet_bot,
    MULTI_ACCOUNT_GROUP_BUY: multi_account_group_buy,
    SHARED_BACKEND: farms.shared_backend,
    SLOW_DRIP: farms.slow_drip,
    AGED_CASHOUT: farms.aged_cashout,
    PAY_RELEASE_REFUND: hired_buyers.pay_release_refund,
    CAMPAIGN_SCRIPT: campaigns.campaign_script,
    CODE_RESALE: resale.code_resale,
    REFERRAL_TREE: campaigns.referral_tree,
}
