"""Farms that make accounts: code platforms, device racks, dial-up rotation, slow drip, raised accounts.

Each family draws its tactics per seed (``w.params`` records them): how many accounts,
how often devices and numbers are rotated, which network, what the SDK gets to see
(hooked apps hide most flags), the hours it works. What it cannot avoid stays in the
data, as faint as the trade leaves it: numbers from a few rented batches, one box's
phones tapping in sequence, a tool's small set of user agents, a drip's few phones,
raised accounts that all cash out on the same campaign night.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from ops.worlds.blind import city
from ops.worlds.blind.clock import PARENT_HOURS, human_delay, later
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
    reaction_ms,
)

SHIFTS: dict[str, tuple[float, ...]] = {
    "night": tuple(1.0 if 1 <= h < 6 else 0.0 for h in range(24)),
    "lunch": tuple(1.0 if 11 <= h < 14 else 0.0 for h in range(24)),
    "evening": tuple(1.0 if 19 <= h < 24 else 0.0 for h in range(24)),
    "office": tuple(1.0 if 9 <= h < 18 else 0.0 for h in range(24)),
    "human": PARENT_HOURS,
}


def _until(w: World, family: str, budget: int, unit: Callable[[], None]) -> None:
    start = w.count(family)
    while w.count(family) - start < budget:
        unit()


def _flags(rng: random.Random, **ranges: tuple[float, float]) -> dict[str, float]:
    return {k: rng.uniform(*v) for k, v in ranges.items()}


class CodePlatform:
    """Numbers rented per sign-up from a 接码 platform: SIMs bought in batches, some virtual segments."""

    def __init__(self, rng: random.Random, *, blocks: int, provinces: int, virtual: float) -> None:
        self.rng = rng
        chosen = rng.sample(city.provinces(), provinces)
        self.blocks = [
            city.remote_block(rng, rng.choice(chosen), virtual=rng.random() < virtual) for _ in range(blocks)
        ]
        self.provinces = chosen

    def number(self) -> str:
        return city.phone_in(self.rng, self.rng.choice(self.blocks))


def code_platform(w: World, budget: int) -> None:
    """接码: a farmer signs up accounts in sessions, a fresh rented number each, on a few phones."""
    rng = w.rng
    prm: dict[str, Any] = {
        "blocks": rng.randrange(2, 30),
        "provinces": rng.randrange(1, 4),
        "virtual": round(rng.uniform(0.05, 0.45), 2),
        "phones": rng.randrange(2, 9),
        "reset": round(rng.uniform(0.3, 1.0), 2),
        "proxy": round(rng.uniform(0, 0.5), 2),
        "session": (rng.randrange(3, 8), rng.randrange(8, 16)),
        "gap_s": (rng.randrange(30, 90), rng.randrange(120, 400)),
        "shift": rng.choice(list(SHIFTS)),
        "gift": round(rng.uniform(0.4, 1.0), 2),
        "groups": round(rng.uniform(0, 0.5), 2),
    }
    w.params["code_platform"] = prm

    def farmer() -> None:
        platform = CodePlatform(rng, blocks=prm["blocks"], provinces=prm["provinces"], virtual=prm["virtual"])
        phones = [city.device(rng, rooted=0.3) for _ in range(prm["phones"])]
        prov = platform.provinces[0]
        exits = city.MobileExits(rng, [n for n, _, _ in city.places()["province_ip16"][prov]], 6)
        for _ in range(rng.randrange(2, 6)):
            t = w.clock.at(rng, w.clock.pick_day(rng), SHIFTS[prm["shift"]])
            for _ in range(rng.randrange(*prm["session"])):
                t = later(t, rng, *prm["gap_s"])
                phone = rng.choice(phones)
                dev = city.Device(city.token(rng, 32), phone.ua, phone.rooted) if rng.random() < prm["reset"] else phone
                proxied = rng.random() < prm["proxy"]
                p = w.person(
                    "code_platform",
                    "code_platform",
                    t,
                    device=dev,
                    phone=platform.number(),
                    home=None,
                    flags={"proxy": 0.6 if proxied else 0.0},
                )
                p.ip_fn = partial(city.province_ip, province=rng.choice(city.provinces())) if proxied else exits.ip
                join(w, p, t)
                if rng.random() < prm["gift"]:
                    claim_coupon(w, p, later(t, rng, 15, 150), "newcomer_gift", 30)
                if w.groups and rng.random() < prm["groups"]:
                    join_group(w, p, later(t, rng, 60, 3600), rng.choice(w.groups))
                    _tap_drops(w, p, latency=(2.0, 600.0), claim=(1500, 0.5))

    _until(w, "code_platform", budget, farmer)


def _tap_drops(
    w: World, p: Person, *, latency: tuple[float, float], claim: tuple[float, float], share: float = 0.8
) -> None:
    rng = w.rng
    for at, group, campaign, amount in w.drops:
        if group in p.groups and at > p.created and rng.random() < share:
            t = at + timedelta(seconds=rng.uniform(*latency))
            claim_packet(w, p, t, group, campaign, amount, reaction_ms(rng, *claim))


def device_farm(w: World, budget: int) -> None:
    """群控 / 改机: a rack of phones driven from one box, each account a task in a wave across the rack."""
    rng = w.rng
    model = rng.choice(city.ANDROID_MODELS[4:])
    prm: dict[str, Any] = {
        "rack": rng.randrange(12, 50),
        "per_phone": rng.randrange(1, 4),
        "same_model": round(rng.uniform(0.5, 1.0), 2),
        "network": rng.choice(("site_wifi", "sim_cards")),
        "spoof": round(rng.uniform(0, 1), 2),
        "rooted": round(rng.uniform(0, 0.6), 2),
        "tampered": round(rng.uniform(0, 0.3), 2),
        "automation": round(rng.uniform(0, 0.4), 2),
        "cloud_phones": round(rng.uniform(0, 0.4), 2),
        "gap_s": (rng.uniform(3, 15), rng.uniform(20, 60)),
        "shift": rng.choice(list(SHIFTS)),
        "model": model[1],
        "referral": round(rng.uniform(0.3, 1.0), 2),
    }
    w.params["device_farm"] = prm

    def box() -> None:
        prov = rng.choice(city.provinces())
        platform = CodePlatform(rng, blocks=rng.randrange(5, 40), provinces=2, virtual=0.2)
        site = city.province_ip(rng, prov)
        cards = city.MobileExits(rng, [n for n, _, _ in city.places()["province_ip16"][prov]], 10)
        rack = []
        for _ in range(prm["rack"]):
            cloud = rng.random() < prm["cloud_phones"]
            ua = city.user_agent(rng, model=model if rng.random() < prm["same_model"] else None)
            rack.append(city.Device(city.token(rng, 32), ua, emulator=cloud and rng.random() < 0.6))
        flags = {"rooted": prm["rooted"], "tampered": prm["tampered"], "automation": prm["automation"]}
        first = w.clock.at(rng, w.clock.pick_day(rng, last=w.clock.days - 2), SHIFTS[prm["shift"]])
        inviters = []
        for dev in rack[: rng.randrange(1, 4)]:
            inv = w.person(
                "device_farm", "device_farm", first, device=dev, phone=platform.number(), home=None, flags=flags
            )
            inv.ip_fn = (lambda r, s=site: s) if prm["network"] == "site_wifi" else cards.ip
            join(w, inv, first)
            inviters.append(inv)
        t = later(first, rng, 600, 7200)
        for _ in range(prm["per_phone"]):
            for dev in rack:
                t = later(t, rng, *prm["gap_s"])
                if rng.random() < prm["spoof"]:
                    dev = city.Device(city.token(rng, 32), dev.ua, emulator=dev.emulator)
                p = w.person(
                    "device_farm", "device_farm", t, device=dev, phone=platform.number(), home=None, flags=flags
                )
                p.ip_fn = inviters[0].ip_fn
                ref = rng.choice(inviters).id if rng.random() < prm["referral"] else None
                join(w, p, t, referrer=ref)
                if w.groups and rng.random() < 0.4:
                    join_group(w, p, later(t, rng, 30, 900), rng.choice(w.groups))
                    _tap_drops(w, p, latency=(0.8, 25.0), claim=(900, 0.4))
            t = t + timedelta(hours=rng.uniform(4, 30))

    _until(w, "device_farm", budget, box)


def dialup_rotation(w: World, budget: int) -> None:
    """秒拨: every request from a fresh residential IP in another province; devices spoofed per account."""
    rng = w.rng
    prm: dict[str, Any] = {
        "uas": rng.randrange(2, 7),
        "rate_per_h": (rng.randrange(1, 4), rng.randrange(4, 12)),
        "shift_h": rng.randrange(3, 10),
        "days": rng.randrange(2, 7),
        "referral": round(rng.uniform(0.2, 1.0), 2),
        "gift": round(rng.uniform(0.3, 1.0), 2),
        "provinces": rng.randrange(4, 20),
    }
    w.params["dialup_rotation"] = prm

    def operator() -> None:
        uas = [city.user_agent(rng) for _ in range(prm["uas"])]
        pool = rng.sample(city.provinces(), min(prm["provinces"], len(city.provinces())))
        platform = CodePlatform(rng, blocks=rng.randrange(10, 60), provinces=3, virtual=0.15)

        def rotate(r: random.Random) -> str:
            return city.province_ip(r, r.choice(pool))

        def account(t: datetime) -> Person:
            p = w.person(
                "dialup_rotation",
                "dialup_rotation",
                t,
                device=city.Device(city.token(rng, 32), rng.choice(uas)),
                phone=platform.number(),
                home=None,
            )
            p.ip_fn = rotate
            return p

        day0 = w.clock.pick_day(rng, last=max(0, w.clock.days - prm["days"]))
        inviters = [account(w.clock.at(rng, day0)) for _ in range(rng.randrange(2, 6))]
        for inv in inviters:
            join(w, inv, inv.created)
        for d in range(day0, min(w.clock.days, day0 + prm["days"])):
            t = w.clock.at(rng, d, PARENT_HOURS)
            end = t + timedelta(hours=prm["shift_h"])
            rate = rng.uniform(*prm["rate_per_h"])
            while True:
                t = t + timedelta(seconds=rng.expovariate(rate / 3600))
                if t >= end:
                    break
                p = account(t)
                join(w, p, t, referrer=rng.choice(inviters).id if rng.random() < prm["referral"] else None)
                if rng.random() < prm["gift"]:
                    claim_coupon(w, p, later(t, rng, 20, 400), "newcomer_gift", 30)

    _until(w, "dialup_rotation", budget, operator)


def slow_drip(w: World, budget: int) -> None:
    """A few accounts a day for the whole window, on a handful of phones, from a home line in the city."""
    rng = w.rng
    prm: dict[str, Any] = {
        "per_day": (rng.randrange(1, 3), rng.randrange(3, 6)),
        "phones": rng.randrange(1, 4),
        "reset": round(rng.uniform(0.5, 1.0), 2),
        "buy": round(rng.uniform(0.15, 0.6), 2),
        "wallets": rng.randrange(1, 3),
        "gift": round(rng.uniform(0.3, 0.9), 2),
    }
    w.params["slow_drip"] = prm

    def dripper() -> None:
        phones = [city.device(rng) for _ in range(prm["phones"])]
        wallets = [city.wallet(rng) for _ in range(prm["wallets"])]
        platform = CodePlatform(rng, blocks=rng.randrange(8, 50), provinces=rng.randrange(1, 4), virtual=0.2)
        home = city.home_ip(rng)
        flat = city.place(rng)
        for d in range(w.clock.days):
            if rng.random() < 0.3:
                home = city.home_ip(rng)  # the router redials
            for _ in range(rng.randrange(prm["per_day"][0], prm["per_day"][1] + 1)):
                t = w.clock.at(rng, d)
                phone = rng.choice(phones)
                dev = city.Device(city.token(rng, 32), phone.ua) if rng.random() < prm["reset"] else phone
                p = w.person(
                    "slow_drip",
                    "slow_drip",
                    t,
                    device=dev,
                    phone=platform.number(),
                    home=home,
                    wallet=rng.choice(wallets),
                )
                p.mobile_share = 0.3
                join(w, p, t)
                if rng.random() < prm["gift"]:
                    claim_coupon(w, p, t + human_delay(rng, 600), "newcomer_gift", 30)
                if rng.random() < prm["buy"]:
                    order(
                        w,
                        p,
                        t + human_delay(rng, 1800),
                        99,
                        campaign="trial_99",
                        address=city.address(flat, rng.choice(city.STYLES)) if rng.random() < 0.5 else None,
                    )

    _until(w, "slow_drip", budget, dripper)


def aged_accounts(w: World, budget: int) -> None:
    """养号: accounts raised for days like customers (groups, packets, a cheap buy), cashed out on one night."""
    rng = w.rng
    prm: dict[str, Any] = {
        "accounts": (rng.randrange(4, 8), rng.randrange(8, 16)),
        "phones": rng.randrange(1, 5),
        "buy": round(rng.uniform(0.1, 0.6), 2),
        "tap": round(rng.uniform(0.4, 0.9), 2),
        "cash_gap_s": (rng.randrange(10, 40), rng.randrange(40, 120)),
        "group_buy": round(rng.uniform(0.2, 0.8), 2),
    }
    w.params["aged_accounts"] = prm
    night = max(d for d in range(w.clock.days) if w.clock.day(d).day == 12 or d == w.clock.days - 1)

    def operator() -> None:
        phones = [city.device(rng) for _ in range(prm["phones"])]
        wallet = city.wallet(rng)
        home = city.home_ip(rng) if rng.random() < 0.6 else None
        accounts = []
        for _ in range(rng.randrange(*prm["accounts"])):
            t = w.clock.at(rng, w.clock.pick_day(rng, last=min(2, night - 1)))
            p = w.person("aged_accounts", "aged_accounts", t, device=rng.choice(phones), home=home, wallet=wallet)
            p.mobile_share = 0.5
            join(w, p, t)
            if w.groups:
                join_group(w, p, t + human_delay(rng, 7200), rng.choice(w.groups))
            for at, group, campaign, amount in w.drops:
                if group in p.groups and p.created < at < w.clock.day(night) and rng.random() < prm["tap"] / 2:
                    claim_packet(w, p, at + human_delay(rng, 300), group, campaign, amount, reaction_ms(rng))
            if rng.random() < prm["buy"]:
                order(w, p, w.clock.at(rng, w.clock.pick_day(rng, first=1, last=night - 1)), 99, campaign="trial_99")
            accounts.append(p)
        t = w.clock.rain_opening(night) + timedelta(seconds=rng.uniform(0.5, 40))
        gid = new_group_buy_id(w) if rng.random() < prm["group_buy"] else None
        for i, p in enumerate(accounts):
            t = later(t, rng, *prm["cash_gap_s"])
            group = p.groups[0] if p.groups else rng.choice(w.groups)
            claim_packet(w, p, t, group, "red_packet_rain", 8.88, reaction_ms(rng, 1400, 0.4))
            claim_coupon(w, p, later(t, rng, 3, 20), "newcomer_gift", 30)
            claim_coupon(w, p, later(t, rng, 20, 40), "season_reshoot", 200)
            if gid and i < 3:
                group_buy(w, p, later(t, rng, 40, 80), gid)

    _until(w, "aged_accounts", budget, operator)


ACCOUNT_FARMS: dict[str, Callable[[World, int], None]] = {
    "code_platform": code_platform,
    "device_farm": device_farm,
    "dialup_rotation": dialup_rotation,
    "slow_drip": slow_drip,
    "aged_accounts": aged_accounts,
}
