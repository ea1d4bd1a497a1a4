"""Farms whose link is in the money or the moment: shared back ends, self-dealt group-buys,
packet scripts, resold codes, referral trees, and paid-then-refunded orders.

Their accounts look honest one by one (own phones, own numbers, ordinary networks);
what they share shows later or elsewhere: a wallet and an address typed several ways at
checkout, a 拼团 whose three members are one person, claims a fraction of a second after
every packet opens, a group's code in strangers' hands, a tree of invitees that never
buys, buyers who pay so a referral is released and then refund.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ops.worlds.blind import city
from ops.worlds.blind.clock import PARENT_HOURS, human_delay, later
from ops.worlds.blind.farms_accounts import SHIFTS, CodePlatform
from ops.worlds.blind.parents import studio_session
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
    refund,
)


def _until(w: World, family: str, budget: int, unit: Callable[[], None]) -> None:
    start = w.count(family)
    while w.count(family) - start < budget:
        unit()


def shared_backend(w: World, budget: int) -> None:
    """Many honest-looking accounts, one wallet or card and one delivery point typed several ways."""
    rng = w.rng
    prm: dict[str, Any] = {
        "accounts": (rng.randrange(8, 15), rng.randrange(15, 40)),
        "wallets": rng.randrange(1, 4),
        "styles": rng.randrange(2, 7),
        "locker": round(rng.uniform(0, 0.6), 2),
        "remote_phones": round(rng.uniform(0, 0.7), 2),
        "gift": round(rng.uniform(0.5, 1.0), 2),
        "address_on_order": round(rng.uniform(0.5, 1.0), 2),
    }
    w.params["shared_backend"] = prm

    def backend() -> None:
        wallets = [city.wallet(rng) for _ in range(prm["wallets"])]
        base = city.place(rng)
        point = city.locker(rng, base) if rng.random() < prm["locker"] else base
        styles = rng.sample(city.STYLES, prm["styles"])
        platform = CodePlatform(rng, blocks=rng.randrange(10, 60), provinces=2, virtual=0.1)
        for _ in range(rng.randrange(*prm["accounts"])):
            t = w.clock.parent_moment(rng, last=w.clock.days - 1)
            phone = platform.number() if rng.random() < prm["remote_phones"] else city.local_phone(rng)
            p = w.person(
                "shared_backend",
                "shared_backend",
                t,
                phone=phone,
                wallet=rng.choice(wallets),
                home=city.home_ip(rng) if rng.random() < 0.5 else None,
            )
            p.mobile_share = 0.5
            join(w, p, t)
            if rng.random() < prm["gift"]:
                claim_coupon(w, p, t + human_delay(rng, 1200), "newcomer_gift", 30)
            addr = city.address(point, rng.choice(styles)) if rng.random() < prm["address_on_order"] else None
            order(w, p, t + human_delay(rng, 5400), 99, campaign="trial_99", address=addr)

    _until(w, "shared_backend", budget, backend)


def self_dealing_groupbuy(w: World, budget: int) -> None:
    """自己拼自己: a leader fills her 3-person 拼团 with her own alt accounts, on the phones she has."""
    rng = w.rng
    prm: dict[str, Any] = {
        "groups": (rng.randrange(2, 4), rng.randrange(4, 8)),
        "phones": rng.randrange(1, 4),
        "one_wallet": round(rng.uniform(0.4, 0.95), 2),
        "home_ip": round(rng.uniform(0.3, 0.9), 2),
        "address": round(rng.uniform(0, 0.8), 2),
        "comes": round(rng.uniform(0, 0.5), 2),
        "join_gap_s": (rng.randrange(20, 90), rng.randrange(120, 1200)),
    }
    w.params["self_dealing_groupbuy"] = prm

    def leader() -> None:
        phones = [city.device(rng) for _ in range(prm["phones"])]
        home = city.home_ip(rng)
        flat = city.place(rng)
        wallet = city.wallet(rng)
        for _ in range(rng.randrange(*prm["groups"])):
            gid = new_group_buy_id(w)
            t = w.clock.parent_moment(rng, last=w.clock.days - 1)
            for i in range(3):
                t = later(t, rng, *prm["join_gap_s"]) if i else t
                p = w.person(
                    "self_dealing_groupbuy",
                    "self_dealing_groupbuy",
                    t,
                    device=phones[i % len(phones)],
                    home=home if rng.random() < prm["home_ip"] else None,
                    wallet=wallet if rng.random() < prm["one_wallet"] else city.wallet(rng),
                )
                p.mobile_share = 0.2
                join(w, p, t - timedelta(seconds=rng.uniform(30, 400)))
                addr = city.address(flat, rng.choice(city.STYLES)) if rng.random() < prm["address"] else None
                group_buy(w, p, t, gid, address=addr)
                paid = order(w, p, later(t, rng, 20, 200), 69, campaign="group_buy_69", address=addr)
                if i == 0 and rng.random() < prm["comes"]:
                    studio_session(w, p, w.clock.next_open(rng, paid, 1, 6), upsell=0.0)

    _until(w, "self_dealing_groupbuy", budget, leader)


def packet_scripts(w: World, budget: int) -> None:
    """Red-packet grabbing by automation on phones or straight at the API (协议抢), the instant packets open."""
    rng = w.rng
    mode = rng.choice(("auto_clicker", "api", "api"))
    prm: dict[str, Any] = {
        "mode": mode,
        "accounts": (rng.randrange(8, 20), rng.randrange(20, 50)),
        "latency_s": (rng.uniform(0.05, 0.4), rng.uniform(0.5, 2.0)),
        "automation": round(rng.uniform(0.05, 0.6), 2),
        "fake_claim_ms": rng.choice((None, "human")),
        "forge_device_per_claim": round(rng.uniform(0, 1), 2),
        "groups_each": rng.randrange(1, 4),
        "skip": round(rng.uniform(0, 0.3), 2),
    }
    w.params["packet_scripts"] = prm

    def operator() -> None:
        ua = city.user_agent(rng)
        phones = [city.device(rng, rooted=0.5) for _ in range(rng.randrange(2, 8))]
        servers = [city.province_ip(rng, rng.choice(("北京", "上海", "广东"))) for _ in range(rng.randrange(1, 4))]
        platform = CodePlatform(rng, blocks=rng.randrange(3, 30), provinces=2, virtual=0.3)
        accounts: list[Person] = []
        for _ in range(rng.randrange(*prm["accounts"])):
            t = w.clock.at(rng, w.clock.pick_day(rng, last=1), SHIFTS["human"])
            if mode == "api":
                dev = city.Device(city.token(rng, 32), ua)
                p = w.person("packet_scripts", "packet_scripts", t, device=dev, phone=platform.number(), home=None)
                p.ip_fn = lambda r, s=servers: r.choice(s)
            else:
                p = w.person(
                    "packet_scripts",
                    "packet_scripts",
                    t,
                    device=rng.choice(phones),
                    phone=platform.number(),
                    home=None,
                    flags={"automation": prm["automation"]},
                )
            join(w, p, t)
            for g in rng.sample(w.groups, min(prm["groups_each"], len(w.groups))):
                join_group(w, p, t + human_delay(rng, 1800), g)
            accounts.append(p)
        for at, group, campaign, amount in w.drops:
            for p in accounts:
                if group not in p.groups or at <= p.created or rng.random() < prm["skip"]:
                    continue
                t = at + timedelta(seconds=rng.uniform(*prm["latency_s"]))
                if mode == "api":
                    claim_ms = reaction_ms(rng, 1600, 0.3) if prm["fake_claim_ms"] else None
                    dev = (
                        city.Device(city.token(rng, 32), ua)
                        if rng.random() < prm["forge_device_per_claim"]
                        else p.device
                    )
                    claim_packet(w, p, t, group, campaign, amount, claim_ms, dev=dev)
                else:
                    claim_packet(w, p, t, group, campaign, amount, int(rng.uniform(60, 420)))

    _until(w, "packet_scripts", budget, operator)


def code_resale(w: World, budget: int) -> None:
    """A member collects the groups' coupon codes and sells them on second-hand apps to outsiders."""
    rng = w.rng
    prm: dict[str, Any] = {
        "codes": rng.randrange(1, 5),
        "buyers_per_day": (rng.randrange(1, 4), rng.randrange(4, 12)),
        "local": round(rng.uniform(0.3, 0.9), 2),
        "on_behalf": round(rng.uniform(0, 0.5), 2),
        "buy": round(rng.uniform(0.05, 0.4), 2),
    }
    w.params["code_resale"] = prm

    def reseller() -> None:
        seller = w.person("code_resale", "code_resale", w.clock.start - timedelta(days=rng.uniform(20, 200)))
        groups = rng.sample(w.groups, min(prm["codes"], len(w.groups)))
        for d in range(rng.randrange(0, 3), w.clock.days):
            for _ in range(rng.randrange(*prm["buyers_per_day"])):
                t = w.clock.at(rng, d)
                g = rng.choice(groups)
                if rng.random() < prm["local"]:
                    b = w.person("code_resale", "code_resale", t)
                else:
                    prov = rng.choice(city.provinces())
                    b = w.person(
                        "code_resale",
                        "code_resale",
                        t,
                        phone=city.phone_in(rng, city.remote_block(rng, prov)),
                        home=city.province_ip(rng, prov),
                    )
                on_behalf = rng.random() < prm["on_behalf"]
                if on_behalf:  # 代领: the seller claims in the buyer's account from his own phone
                    b.device, b.home, b.mobile_share = seller.device, seller.home, 0.0
                join(w, b, t)
                claim_coupon(
                    w,
                    b,
                    later(t, rng, 20, 300),
                    rng.choice(("newcomer_gift", "newcomer_gift", "season_reshoot")),
                    30,
                    code=w.group_codes[g],
                )
                if rng.random() < prm["buy"]:
                    paid = order(w, b, t + human_delay(rng, 7200), 99, campaign="trial_99")
                    studio_session(w, b, w.clock.next_open(rng, paid, 1, 6), upsell=0.0)

    _until(w, "code_resale", budget, reseller)


def referral_tree(w: World, budget: int) -> None:
    """众包: sign-up tasks passed down a tree of crowd workers, nationwide; nobody ever buys."""
    rng = w.rng
    prm: dict[str, Any] = {
        "branching": (rng.randrange(1, 3), rng.randrange(3, 6)),
        "depth": rng.randrange(3, 8),
        "delay_median_h": round(rng.uniform(1, 8), 1),
        "gift": round(rng.uniform(0, 0.6), 2),
        "phone_matches_ip": round(rng.uniform(0.5, 0.95), 2),
        "nodes": rng.randrange(40, 160),
    }
    w.params["referral_tree"] = prm

    def worker(t: datetime) -> Person:
        prov = rng.choice(city.provinces())
        ph = prov if rng.random() < prm["phone_matches_ip"] else rng.choice(city.provinces())
        p = w.person(
            "referral_tree",
            "referral_tree",
            t,
            phone=city.phone_in(rng, city.remote_block(rng, ph)),
            home=city.province_ip(rng, prov),
        )
        p.mobile_share = 0.5
        return p

    def tree() -> None:
        root = worker(w.clock.at(rng, w.clock.pick_day(rng, last=max(0, w.clock.days - 4))))
        join(w, root, root.created)
        frontier = [(root, 0)]
        nodes = 1
        while frontier and nodes < prm["nodes"]:
            parent, depth = frontier.pop(0)
            if depth >= prm["depth"]:
                continue
            for _ in range(rng.randrange(prm["branching"][0], prm["branching"][1] + 1)):
                t = parent.created + human_delay(rng, prm["delay_median_h"] * 3600)
                if not w.clock.inside(t):
                    continue
                child = worker(t)
                join(w, child, t, referrer=parent.id)
                if rng.random() < prm["gift"]:
                    claim_coupon(w, child, later(t, rng, 30, 600), "newcomer_gift", 30)
                frontier.append((child, depth + 1))
                nodes += 1

    _until(w, "referral_tree", budget, tree)


def pay_release_refund(w: World, budget: int) -> None:
    """刷单: hired buyers join through the farm's referrer, pay the trial so the gift is released, then refund."""
    rng = w.rng
    prm: dict[str, Any] = {
        "buyers": (rng.randrange(6, 15), rng.randrange(15, 40)),
        "masters": rng.randrange(1, 4),
        "local": round(rng.uniform(0.1, 0.7), 2),
        "refund": round(rng.uniform(0.8, 1.0), 2),
        "refund_after_h": (rng.uniform(1, 12), rng.uniform(12, 96)),
        "group_buy": round(rng.uniform(0, 0.4), 2),
        "masters_bought": round(rng.uniform(0, 1), 2),
    }
    w.params["pay_release_refund"] = prm

    def farm() -> None:
        masters = []
        for _ in range(prm["masters"]):
            m = w.person(
                "pay_release_refund", "pay_release_refund", w.clock.start - timedelta(days=rng.uniform(10, 90))
            )
            if rng.random() < prm["masters_bought"]:  # a referrer who once bought the trial looks like a customer
                past_order(w, m, rng.uniform(5, 60), 99)
            masters.append(m)
        for _ in range(rng.randrange(*prm["buyers"])):
            t = w.clock.at(rng, w.clock.pick_day(rng), PARENT_HOURS)
            if rng.random() < prm["local"]:
                b = w.person("pay_release_refund", "pay_release_refund", t)
            else:
                prov = rng.choice(city.provinces())
                b = w.person(
                    "pay_release_refund",
                    "pay_release_refund",
                    t,
                    phone=city.phone_in(rng, city.remote_block(rng, prov)),
                    home=city.province_ip(rng, prov),
                )
            join(w, b, t, referrer=rng.choice(masters).id)
            amount = 99
            if rng.random() < prm["group_buy"]:
                group_buy(w, b, later(t, rng, 60, 600), new_group_buy_id(w))
                amount = 69
            paid = order(
                w, b, t + human_delay(rng, 900), amount, campaign="trial_99" if amount == 99 else "group_buy_69"
            )
            if rng.random() < prm["refund"]:
                refund(w, b, paid + timedelta(hours=rng.uniform(*prm["refund_after_h"])), amount)

    _until(w, "pay_release_refund", budget, farm)


MONEY_FARMS: dict[str, Callable[[World, int], None]] = {
    "shared_backend": shared_backend,
    "self_dealing_groupbuy": self_dealing_groupbuy,
    "packet_scripts": packet_scripts,
    "code_resale": code_resale,
    "referral_tree": referral_tree,
    "pay_release_refund": pay_release_refund,
}
