"""A unit is one story told in events (a parent's first week, one farm's night).

Units are generated one at a time and each is complete in itself, so a budget of
events can be filled by whole units and the last one cut at any point without ever
leaving an outcome whose order is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.simulate.timeline import Draft
from engine.simulate.world import Person

HONEST = "honest"
# -- attack families (an attack event's truth is its family) ----------------------------
FARMING_RING = "farming_ring"  # device farm (群控), emulators, one data-centre /24
FAKE_REFERRAL_BURST = "fake_referral_burst"
RED_PACKET_BOT = "red_packet_bot"
MULTI_ACCOUNT_GROUP_BUY = "multi_account_group_buy"  # 自己拼自己
SHARED_BACKEND = "shared_backend"  # 接码 numbers, 改机, 秒拨; one wallet / locker at checkout
SLOW_DRIP = "slow_drip"  # a few accounts a day for weeks
AGED_CASHOUT = "aged_account_cashout"  # 养号, then all cash out on a campaign night
CAMPAIGN_SCRIPT = "campaign_script"  # 协议抢: straight at the API the second packets open
CODE_RESALE = "code_resale"  # a group's code sold to outsiders
REFERRAL_TREE = "referral_tree"  # crowd-worker sign-up tasks, many levels, nobody buys
PAY_RELEASE_REFUND = "pay_release_refund"  # 刷单: pay so the referral gift is released, refund
CLOUD_PHONES = "cloud_phones"  # 云手机: rented instances, one image's model, a script's clock (rented_devices.py)
BOUGHT_ACCOUNTS = "bought_accounts"  # 号商: aged by a seller, device + line + number changed at the first reward
BRANCH_STACKING = "branch_stacking"  # every branch's newcomer offer, one person (engine/simulate/branches.py)
ABUSE_KINDS: tuple[str, ...] = (
    FARMING_RING,
    FAKE_REFERRAL_BURST,
    RED_PACKET_BOT,
    MULTI_ACCOUNT_GROUP_BUY,
    SHARED_BACKEND,
    SLOW_DRIP,
    AGED_CASHOUT,
    CAMPAIGN_SCRIPT,
    CODE_RESALE,
    REFERRAL_TREE,
    PAY_RELEASE_REFUND,
    *(CLOUD_PHONES, BOUGHT_ACCOUNTS),
    BRANCH_STACKING,
)
# -- honest families (truth "honest"; the family names the look-alike) -------------------
PARENTS = "parents"  # the studio's ordinary customers and newcomers
COUNTER_TABLET = "counter_tablet"  # walk-ins signed up by staff on the store's tablet
FAMILY_TABLET = "family_tablet"  # a family on one home tablet, each parent buying
OFFICE_LUNCH = "office_lunch_wave"  # an office / campus NAT, sign-ups at lunch
POPULAR_REFERRER = "popular_referrer"  # a parent whose many friends do buy
VIRTUAL_NUMBERS = "virtual_number_parents"  # real parents on virtual-operator numbers
HOLIDAY_RUSH = "holiday_red_packet_rush"  # everyone taps the red packet within a second
NEW_PHONE_UPGRADE = "new_phone_upgrade"  # an old customer on a new phone and number (rented_devices.py)
CAMPUS_LUNCH, PARTNER_CLASS, GRANDPARENTS_PHONE = "campus_lunch_wave", "partner_class", "grandparents_phone"  # waves.py
TWO_BRANCH_FAMILY = "two_branch_family"  # parents at two branches, a customer who moved (branches.py)
HONEST_FAMILIES: tuple[str, ...] = (
    PARENTS,
    COUNTER_TABLET,
    FAMILY_TABLET,
    OFFICE_LUNCH,
    POPULAR_REFERRER,
    VIRTUAL_NUMBERS,
    HOLIDAY_RUSH,
    NEW_PHONE_UPGRADE,
    *(CAMPUS_LUNCH, PARTNER_CLASS, GRANDPARENTS_PHONE),
    TWO_BRANCH_FAMILY,
)


class Unit:
    """The drafts of one story, all with the same ground truth."""

    def __init__(self, truth: str, sequence: Iterator[int], family: str | None = None) -> None:
        self.truth = truth
        self.family = family or (PARENTS if truth == HONEST else truth)
        self._sequence = sequence  # shared by all units of a run: equal times keep creation order
        self.drafts: list[Draft] = []

    def add(
        self,
        t: float,
        type_: str,
        person: Person | None = None,
        *,
        customer: str | None = None,
        attributes: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Draft:
        """Add an event of ``person`` (their device, ip, phone...); ``fields`` override or add."""
        base: dict[str, Any] = {"type": type_}
        if person is not None:
            base.update(customer=person.customer, device=person.device, ip=person.ip, phone=person.phone)
            if person.email and type_ in ("signup", "referral"):
                base["email"] = person.email
            if person.payment and type_ == "order":
                base["payment"] = person.payment  # written only with --payment (see generate)
        if customer is not None:
            base["customer"] = customer
        base.update({k: v for k, v in fields.items() if v is not None})
        draft = Draft(
            t=t,
            fields=base,
            truth=self.truth,
            family=self.family,
            seq=next(self._sequence),
            attributes=dict(attributes or {}),
        )
        self.drafts.append(draft)
        return draft

    def ordered(self) -> list[Draft]:
        return sorted(self.drafts, key=lambda d: (d.t, d.seq))
