"""What an account does in the app, the same calls for a parent and a farm: a story picks which.

Each act writes the events a storefront would send for it: a sign-up (or a referral sign-up), the
newcomer gift (with a group's welfare code or not), a checkout (``order``, scored) and its payment
(``order_paid``), a session in the studio (``store_visit``), a refund, a group join, a tap on a
red packet, a group-buy join. The network is the person's home line unless a story passes another.
"""

from __future__ import annotations

from typing import Any

from ops.worlds.rongcheng.city import Line
from ops.worlds.rongcheng.store import Ctx, Drop, Group, Person

Flags = dict[str, bool] | None


class Acts:
    """The acts of one family's accounts (``family`` / ``truth`` labels on every event)."""

    def __init__(self, ctx: Ctx, family: str, truth: str) -> None:
        self.ctx, self.family, self.truth = ctx, family, truth
        self.events = 0

    def _scored(
        self,
        t: float,
        type_: str,
        p: Person,
        line: Line | None,
        net: str,
        flags: Flags,
        ua: str | None,
        attributes: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        line = line if line is not None else (p.home if net == "WIFI" else p.mobile)
        self.ctx.log.scored(
            t,
            self.family,
            self.truth,
            type_,
            p.id,
            p.phone,
            line,
            self.ctx.rng,
            net=net,
            flags=flags,
            ua=ua,
            attributes=attributes,
            **fields,
        )
        self.events += 1

    def _outcome(self, t: float, type_: str, customer: str, **fields: Any) -> None:
        self.ctx.log.add(t, self.family, self.truth, type_, customer, **fields)
        self.events += 1

    def signup(
        self,
        t: float,
        p: Person,
        *,
        referrer: str | None = None,
        line: Line | None = None,
        net: str = "WIFI",
        flags: Flags = None,
        ua: str | None = None,
        campaign: str | None = "trial_99",
    ) -> None:
        number = self.ctx.city.typed_number(p.number) if p.number else None
        self._scored(
            t,
            "referral" if referrer else "signup",
            p,
            line,
            net,
            flags,
            ua,
            phone=number,
            email=p.email,
            referrer=referrer,
            campaign=campaign,
        )

    def gift(
        self,
        t: float,
        p: Person,
        *,
        code: str | None = None,
        group: Group | None = None,
        line: Line | None = None,
        net: str = "WIFI",
        flags: Flags = None,
        ua: str | None = None,
    ) -> None:
        self._scored(
            t,
            "coupon_claim",
            p,
            line,
            net,
            flags,
            ua,
            campaign="newcomer_gift",
            amount=30.0,
            coupon=code,
            group=group.id if group else None,
        )

    def coupon(
        self,
        t: float,
        p: Person,
        campaign: str,
        amount: float,
        *,
        line: Line | None = None,
        net: str = "WIFI",
        flags: Flags = None,
    ) -> None:
        self._scored(t, "coupon_claim", p, line, net, flags, None, campaign=campaign, amount=amount)

    def buy(
        self,
        t: float,
        p: Person,
        amount: float,
        *,
        pay_after: float = 40.0,
        line: Line | None = None,
        net: str = "WIFI",
        flags: Flags = None,
        ua: str | None = None,
        ship: bool = True,
        address: str | None = None,
        wallet: str | None = None,
        campaign: str | None = None,
    ) -> None:
        """A checkout and, ``pay_after`` seconds later, its payment."""
        wallet = wallet or p.wallet or self.ctx.city.wallet()
        p.wallet = p.wallet or wallet
        if address is None and ship and p.place is not None:
            address = p.place.typed(p.style)
        self._scored(
            t, "order", p, line, net, flags, ua, amount=amount, payment=wallet, address=address, campaign=campaign
        )
        self._outcome(t + pay_after, "order_paid", p.id, amount=amount, payment=wallet, campaign=campaign)
        p.paid = True

    def visit(self, t: float, p: Person, branch: str) -> None:
        self._outcome(t, "store_visit", p.id, attributes={"branch": branch})

    def refund(self, t: float, p: Person, amount: float) -> None:
        self._outcome(t, "refund", p.id, amount=amount, payment=p.wallet)

    def join_group(self, t: float, p: Person, group: Group, referrer: str | None = None) -> None:
        self._outcome(t, "member_joined", p.id, group=group.id, referrer=referrer)
        group.members.append(p.id)
        p.groups.append(group)

    def tap(
        self,
        drop: Drop,
        p: Person,
        delay_s: float,
        claim_ms: float | None,
        *,
        line: Line | None = None,
        net: str = "WIFI",
        flags: Flags = None,
        ua: str | None = None,
        device: bool = True,
    ) -> None:
        attributes = {"claim_ms": int(claim_ms)} if claim_ms is not None else {}
        phone = p.phone if device else None
        if phone is not None and p.old_phone is not None and drop.t + delay_s < p.changed_at:
            phone = p.old_phone
        line = line if line is not None else (p.home if net == "WIFI" else p.mobile)
        self.ctx.log.scored(
            drop.t + delay_s,
            self.family,
            self.truth,
            "red_packet_claim",
            p.id,
            phone,
            line,
            self.ctx.rng,
            net=net,
            flags=flags,
            ua=ua,
            attributes=attributes,
            group=drop.group.id,
            campaign=drop.campaign,
            amount=drop.amount,
        )
        self.events += 1

    def groupbuy(
        self,
        t: float,
        p: Person,
        gb: str,
        *,
        line: Line | None = None,
        net: str = "WIFI",
        flags: Flags = None,
        ua: str | None = None,
        address: str | None = None,
    ) -> None:
        self._scored(
            t,
            "group_buy_join",
            p,
            line,
            net,
            flags,
            ua,
            group=gb,
            campaign="group_buy_69",
            amount=69.0,
            address=address,
        )
