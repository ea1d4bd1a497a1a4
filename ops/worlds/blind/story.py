"""The world being written: its people, and the acts a storefront reports for them.

A ``Person`` is one account as the storefront knows it (its device, number, network,
address, wallet). An act (``signup``, ``order``, ``claim_packet``...) appends the events
the storefront would send for it: the scored event with what the mini-program SDK
observes (device, IP, user agent, the accepted flags), and the outcomes the back end
posts afterwards (``order_paid``, ``refund``, ``store_visit``), without device or IP.
Families only choose who does what, when, and what they share.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ops.worlds.blind import city
from ops.worlds.blind.clock import Clock

SCORED = frozenset({"signup", "referral", "coupon_claim", "group_buy_join", "red_packet_claim", "order"})
FLAGS = ("emulator", "automation", "rooted", "tampered", "proxy")


@dataclass
class Person:
    """One account, and the identities the storefront sees it use."""

    id: str
    family: str
    truth: str
    device: city.Device
    created: datetime
    phone: str | None = None
    home: str | None = None  # broadband or a fixed NAT; None: always on mobile data
    mobile_share: float = 0.3
    address: str | None = None
    wallet: str | None = None
    paid: int = 0
    groups: list[str] = field(default_factory=list)
    flags: dict[str, float] = field(default_factory=dict)  # flag -> chance the SDK reports it per event
    ip_fn: Callable[[random.Random], str] | None = None  # a farm's own network (rotation, proxies)


@dataclass
class World:
    """Everything written so far, with the shared pools (mobile exits, groups, wallets)."""

    rng: random.Random
    clock: Clock
    events: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    group_codes: dict[str, str] = field(default_factory=dict)
    drops: list[tuple[datetime, str, str, float]] = field(default_factory=list)
    wallet_customers: dict[str, set[str]] = field(default_factory=dict)
    exits: city.MobileExits | None = None
    store_ip: str = ""  # the studio's own Wi-Fi (its counter tablet, parents paying at the counter)
    orders: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def count(self, family: str) -> int:
        return self.counts[family]

    def truncate(self, keep: int) -> None:
        """Drop the events written after the first ``keep`` (a family that went over its share)."""
        for e in self.events[keep:]:
            self.counts[e["family"]] -= 1
        del self.events[keep:]

    # -- people ------------------------------------------------------------------------------

    def person(self, family: str, truth: str, created: datetime, **kw: Any) -> Person:
        rng = self.rng
        kw.setdefault("device", city.device(rng))
        kw.setdefault("phone", city.local_phone(rng))
        kw.setdefault("home", city.home_ip(rng))
        kw.setdefault("wallet", city.wallet(rng))
        return Person(id=city.customer_id(rng), family=family, truth=truth, created=created, **kw)

    def ip(self, p: Person) -> tuple[str, str]:
        """The address ``p``'s next request comes from, and the SDK's NetType for it."""
        if p.ip_fn is not None:
            return p.ip_fn(self.rng), self.rng.choice(("WIFI", "4G", "5G"))
        if p.home is None or self.rng.random() < p.mobile_share:
            assert self.exits is not None
            return self.exits.ip(self.rng), self.rng.choice(("4G", "5G", "5G"))
        return p.home, "WIFI"

    # -- events ------------------------------------------------------------------------------

    def emit(self, t: datetime, type_: str, p: Person, **fields: Any) -> dict[str, Any]:
        """Append one event; scored events carry what the SDK observes unless ``fields`` overrides it."""
        attrs: dict[str, Any] = fields.pop("attributes", {})
        event: dict[str, Any] = {"type": type_, "customer": p.id, "_t": t, "family": p.family, "truth": p.truth}
        if type_ in SCORED:
            dev: city.Device = fields.pop("dev", p.device)
            ip, net = fields.pop("net", None) or self.ip(p)
            event["device"] = dev.id
            event["ip"] = ip
            sdk: dict[str, Any] = {"user_agent": dev.ua.replace("{net}", net)}
            sdk.update({f: self.rng.random() < p.flags.get(f, 0.0) for f in FLAGS})
            sdk["rooted"] = sdk["rooted"] or dev.rooted
            sdk["emulator"] = sdk["emulator"] or dev.emulator
            attrs = {**sdk, **attrs}
        event.update({k: v for k, v in fields.items() if v is not None})
        if attrs:
            event["attributes"] = attrs
        if t >= self.clock.end or (t < self.clock.start and type_ in SCORED):
            return event  # after the window, or a scored event before it: not in this log
        self.events.append(event)
        self.counts[p.family] += 1
        return event


# -- acts --------------------------------------------------------------------------------------


def join(
    w: World, p: Person, t: datetime, *, referrer: str | None = None, campaign: str | None = "trial_99", **kw: Any
) -> None:
    """A sign-up (or, invited by ``referrer``, a referral) with the phone bound to the account."""
    phone = city.display_phone(w.rng, p.phone) if p.phone else None
    if referrer:
        w.emit(t, "referral", p, referrer=referrer, phone=phone, campaign=campaign, **kw)
    else:
        w.emit(t, "signup", p, phone=phone, campaign=campaign, **kw)


def order(
    w: World,
    p: Person,
    t: datetime,
    amount: float,
    *,
    paid: bool = True,
    coupon: str | None = None,
    wallet: str | None = None,
    address: str | None = None,
    campaign: str | None = None,
    **kw: Any,
) -> datetime:
    """A checkout and, unless abandoned, its ``order_paid`` a little later; returns when it was paid."""
    w.orders += 1
    ref = f"SO{w.orders:06d}{city.token(w.rng, 4).upper()}"
    pay = wallet or p.wallet
    attrs: dict[str, Any] = {"order": ref}
    if pay:
        users = w.wallet_customers.setdefault(pay, set())
        users.add(p.id)
        attrs["pay_account_customers"] = len(users)
    w.emit(
        t,
        "order",
        p,
        amount=amount,
        payment=pay,
        coupon=coupon,
        campaign=campaign,
        address=address or p.address,
        attributes=attrs,
        **kw,
    )
    done = t + timedelta(seconds=w.rng.uniform(8, 120))
    if paid:
        w.emit(done, "order_paid", p, amount=amount, payment=pay, attributes={"order": ref})
        p.paid += 1
    return done


def refund(w: World, p: Person, t: datetime, amount: float) -> None:
    w.emit(t, "refund", p, amount=amount)


def visit(w: World, p: Person, t: datetime) -> None:
    """The customer came to the studio (recorded by the store's own system)."""
    w.emit(t, "store_visit", p)


def past_order(w: World, p: Person, days_ago: float, amount: float) -> None:
    """A paid order from before the window (history the storefront loads first)."""
    t = w.clock.start - timedelta(days=days_ago)
    w.orders += 1
    w.emit(t, "order_paid", p, amount=amount, payment=p.wallet, attributes={"order": f"SO{w.orders:06d}H"})
    if p.wallet:
        w.wallet_customers.setdefault(p.wallet, set()).add(p.id)
    p.paid += 1


def claim_coupon(
    w: World, p: Person, t: datetime, campaign: str, amount: float, *, code: str | None = None, **kw: Any
) -> None:
    since = max(0, int((t - p.created).total_seconds()))
    attrs = {"seconds_since_signup": since, **kw.pop("attributes", {})}
    w.emit(t, "coupon_claim", p, campaign=campaign, amount=amount, coupon=code, attributes=attrs, **kw)


def claim_packet(
    w: World, p: Person, t: datetime, group: str, campaign: str, amount: float, claim_ms: int | None, **kw: Any
) -> None:
    since = max(0, int((t - p.created).total_seconds()))
    attrs: dict[str, Any] = {"seconds_since_signup": since, **kw.pop("attributes", {})}
    if claim_ms is not None:
        attrs["claim_ms"] = claim_ms
    w.emit(t, "red_packet_claim", p, group=group, campaign=campaign, amount=amount, attributes=attrs, **kw)


def join_group(w: World, p: Person, t: datetime, group: str, *, referrer: str | None = None) -> None:
    """The member joined a WeChat group (reported by WeCom's callback)."""
    w.emit(
        t, "member_joined", p, group=group, referrer=referrer, attributes={"scene": "invite" if referrer else "qrcode"}
    )
    p.groups.append(group)


def group_buy(w: World, p: Person, t: datetime, group_id: str, **kw: Any) -> None:
    w.emit(t, "group_buy_join", p, group=group_id, campaign="group_buy_69", **kw)


def new_group_buy_id(w: World) -> str:
    return f"gb-{city.token(w.rng, 10)}"


def reaction_ms(rng: random.Random, median: float = 2600, spread: float = 0.55) -> int:
    """How long a thumb takes from seeing a packet to tapping it."""
    return max(250, int(median * rng.lognormvariate(0, spread)))
