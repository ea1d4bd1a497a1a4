"""Replay's reward accounting: holds living on in log time, voids, clawbacks, what each family kept.

One hand-built log, every number worked out by hand: a parent whose held rewards her
session releases, a farm whose holds expire and whose fraud label voids and claws back,
a hired buyer whose refund claws back the organiser's gift, raised accounts whose
unused coupon a chargeback recovers and whose spent one it cannot.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from engine.backends import BackendKind
from engine.events import Event
from engine.replay.judge import PackSource
from engine.replay.log import Record
from engine.replay.render import render
from engine.replay.runner import replay

START = datetime(2026, 11, 3, 10, 0, tzinfo=timezone(timedelta(hours=8)))
HELD = "    hold: {until: store_visit, void_after: 30d}\n"
PACK = """
pack: {name: rewards-test, timezone: Asia/Shanghai}
features:
  device.accounts_24h: {distinct: customer, by: device, window: 24h}
decision: {review_at: 40, deny_at: 70, withhold_offers_on: [review, deny]}
tiers:
  - {id: occasional, label: 偶然型, default: true}
rules:
  - id: never
    code: 1201
    on: [signup]
    when: device.accounts_24h >= 1000
    score: 70
    reason: {zh: 从不, en: never}
offers:
  - id: trial
    label: 体验
    tiers: [occasional]
    on: [signup, referral]
    effect: {type: trial, value: 99, description: 体验}
%(held)s  - id: gift
    label: 新人礼
    tiers: [occasional]
    on: [coupon_claim]
    when: 'event.campaign == "newcomer"'
    effect: {type: coupon, value: 30, description: 新人券}
%(held)s  - id: referral_gift
    label: 老带新礼
    tiers: [occasional]
    on: [referral]
    beneficiary: referrer
    effect: {type: gift, value: 50, description: 精修照片}
%(held)s  - id: winback
    label: 回归券
    tiers: [occasional]
    on: [coupon_claim]
    when: 'event.campaign == "winback"'
    effect: {type: coupon, value: 50, description: 回归券}
  - id: packet
    label: 红包
    tiers: [occasional]
    on: [red_packet_claim]
    effect: {type: red_packet, value: 5, description: 红包}
%(clawback)s
"""
CLAWBACK = "clawback: {on: [fraud_label, chargeback, refund_released], window: 30d}"


def source(*, held: bool) -> PackSource:
    text = PACK % {"held": HELD if held else "", "clawback": CLAWBACK if held else ""}
    return pack_of(text)


def pack_of(text: str) -> PackSource:
    return PackSource({"pack.yaml": text}, BackendKind.PYTHON)


def with_feature(text: str, feature: str) -> str:
    """The pack ``text`` with one more feature (``name: {definition}``)."""
    return text.replace("features:\n", f"features:\n  {feature}\n", 1)


LINKED = "customer.linked_accounts_30d: {link: accounts, window: 30d}"


def reading_links(on: str) -> str:
    """The held pack whose never-firing rule reads the account links on ``on`` (the replay records them then)."""
    text = with_feature(PACK % {"held": HELD, "clawback": CLAWBACK}, LINKED)
    return text.replace(
        "    on: [signup]\n    when: device.accounts_24h >= 1000",
        f"    on: [{on}]\n    when: customer.linked_accounts_30d >= 1000",
    )


class Log:
    """A hand-built log: event ids numbered after ``prefix``; parents are honest, any other family its own truth."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.records: list[Record] = []

    def add(self, hours: float, type_: str, customer: str, family: str, **fields: Any) -> None:
        truth = "honest" if family == "parents" else family
        data = {"event_id": f"{self.prefix}{len(self.records):03d}", "type": type_, "customer": customer,
                "timestamp": (START + timedelta(hours=hours)).isoformat(), **fields}  # fmt: skip
        self.records.append(Record(Event.model_validate(data), truth, family))


def flows(side: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each family's reward flow, attack and honest, on one side of a summary (``summary["new"]``)."""
    families = side["families"]
    return {f: r["rewards"]["flow"] for f, r in (families["attack"] | families["honest"]).items()}


def world() -> list[Record]:
    log = Log("r")
    add = log.add

    add(0, "signup", "mum", "parents", device="dv-mum")  # trial held
    add(0.5, "signup", "f1", "farming_ring", device="dv-f1")  # trial held, never earned
    add(0.6, "signup", "f2", "farming_ring", device="dv-f2")  # trial held, voided by the label
    add(1, "coupon_claim", "mum", "parents", campaign="newcomer")  # gift held
    add(1.5, "coupon_claim", "f1", "farming_ring", campaign="newcomer")  # gift held, never earned
    add(2, "red_packet_claim", "f1", "farming_ring", group="g1")  # cash at once: kept
    add(2.5, "red_packet_claim", "f2", "farming_ring", group="g1")  # cash: marked by the label, not recovered
    add(3, "referral", "hired1", "pay_release_refund", referrer="org1", device="dv-h1")  # trial + org1's gift held
    add(4, "coupon_claim", "c3", "aged_account_cashout", campaign="winback")  # unused when the chargeback comes
    add(5, "coupon_claim", "c4", "aged_account_cashout", campaign="winback")  # spent before the label
    add(10, "order_paid", "c4", "aged_account_cashout", amount=99)
    add(24.6, "label", "f2", "farming_ring", label="fraud")
    add(30, "chargeback", "c3", "aged_account_cashout", amount=50)
    add(40, "label", "c4", "aged_account_cashout", label="fraud")
    add(48, "store_visit", "mum", "parents")  # releases her trial (48 h) and gift (47 h), uses the trial
    add(50, "store_visit", "hired1", "pay_release_refund")  # releases the trial and the organiser's gift
    add(72, "order_paid", "mum", "parents", amount=1500)  # uses her gift
    add(80, "refund", "hired1", "pay_release_refund", amount=99)  # claws back org1's gift (delivered: kept)
    add(32 * 24, "signup", "mum2", "parents", device="dv-mum2")  # the clock passes f1's void_at; held at the end
    return log.records


def cell(count: int, value: float) -> dict[str, Any]:
    return {"count": count, "value": value}


async def test_each_family_s_rewards_through_their_life_against_a_pack_that_grants_at_once() -> None:
    summary = (await replay(world(), source(held=True), source(held=False), in_process=True)).summary()
    new = summary["new"]["families"]
    flow = flows(summary["new"])

    farm = flow["farming_ring"]
    assert farm["granted"] == cell(5, 40.0) and farm["held"] == cell(3, 30.0)
    assert farm["expired"] == cell(2, 30.0)  # f1's trial and gift: 30 days, never in the studio
    assert farm["voided"] == cell(1, 0.0)  # f2's trial, by the fraud label
    assert farm["clawed_back"] == cell(1, 5.0) and farm["recovered"] == cell(0, 0.0)  # a red packet is gone
    assert farm["kept"] == cell(2, 10.0) and farm["pending"] == cell(0, 0.0)

    ring = flow["pay_release_refund"]
    assert ring["released"] == cell(2, 50.0)  # the hired buyer's visit released both
    assert ring["clawed_back"] == cell(1, 50.0)  # the refund reaches the organiser's gift ...
    assert ring["kept"] == cell(2, 50.0)  # ... already delivered; the trial was used at the visit

    aged = flow["aged_account_cashout"]
    assert aged["clawed_back"] == cell(2, 100.0)
    assert aged["recovered"] == cell(1, 50.0)  # c3's coupon was unused
    assert aged["kept"] == cell(1, 50.0)  # c4 paid an order with it before the label

    parents = new["honest"]["parents"]["rewards"]
    assert parents["flow"]["released"] == cell(2, 30.0) and parents["flow"]["pending"] == cell(1, 0.0)
    assert parents["flow"]["kept"] == cell(2, 30.0)
    assert parents["hold_delay_hours"] == {"released": 2, "median": 47.5, "p90": 48.0}

    card = new["scorecard"]
    assert card["attacker_rewards"] == {"count": 5, "cash_value": 110.0, "trials": 1}
    assert card["attacker_flow"]["granted"] == cell(5 + 2 + 2, 40.0 + 50.0 + 100.0)
    assert card["honest_rewards"]["hold_delay_hours"] == {"released": 2, "median": 47.5, "p90": 48.0}

    old = summary["baseline"]["families"]["scorecard"]
    assert old["attacker_rewards"] == {"count": 9, "cash_value": 190.0, "trials": 3}  # everything at once, kept
    cut = summary["attacker_rewards_cut"]
    assert cut["count_cut"] == pytest.approx(1 - 5 / 9, abs=1e-4)
    assert cut["cash_value_cut"] == pytest.approx(1 - 110 / 190, abs=1e-4)
    assert cut["count_by_family"]["farming_ring"] == {"baseline": 5, "new": 2}
    assert cut["honest_kept"]["baseline"]["count"] == 3 and cut["honest_kept"]["new"]["count"] == 2

    table = render(summary)
    assert "rewards (new)" in table and "47.5 / 48" in table
    assert "rewards kept by attackers" in table


async def test_a_voided_or_expired_hold_returns_its_unit_to_the_budget() -> None:
    pack = PACK.replace(
        "    effect: {type: trial, value: 99, description: 体验}\n",
        "    effect: {type: trial, value: 99, description: 体验}\n    budget: {total: 1}\n",
    )
    text = pack % {"held": HELD, "clawback": CLAWBACK}
    records = world()
    summary = (await replay(records, pack_of(text), in_process=True)).summary()
    trial = next(o for o in summary["new"]["offers"] if o["offer"] == "trial")
    # one unit: mum holds it until her visit, f1 and f2 and hired1 find it taken; released, it stays spent;
    # mum2, after the others' holds are gone, finds none either (a released unit never comes back)
    assert (trial["held"], trial["released"], trial["out_of_budget"]) == (1, 1, 4)
    early = [r for r in records if r.event.customer != "mum"]  # without her, f1 is first
    again = (await replay(early, pack_of(text), in_process=True)).summary()
    trial = next(o for o in again["new"]["offers"] if o["offer"] == "trial")
    # f1 takes the unit; it expires on day 30, so mum2 on day 32 gets it back
    assert (trial["held"], trial["expired"], trial["pending"], trial["out_of_budget"]) == (2, 1, 1, 2)


def on_payment(window: str | None) -> PackSource:
    """The referral gift held until the friend pays, or until the payment has stood ``window`` without a refund."""
    hold = "    hold: {until: order_paid, void_after: 30d%s}\n" % (f", return_window: {window}" if window else "")
    text = PACK % {"held": hold, "clawback": CLAWBACK}
    return pack_of(text)


def paid_and_refunded() -> list[Record]:
    """A hired buyer pays and refunds three days later; an honest friend pays and keeps the trial."""
    log = Log("w")
    add = log.add

    add(0, "referral", "hired1", "pay_release_refund", referrer="org1", device="dv-h1")
    add(1, "referral", "friend1", "parents", referrer="mum1", device="dv-fr1")
    add(2, "order_paid", "hired1", "pay_release_refund", amount=99)
    add(3, "order_paid", "friend1", "parents", amount=99)
    add(75, "refund", "hired1", "pay_release_refund", amount=99)
    add(10 * 24, "signup", "mum2", "parents", device="dv-mum2")  # the clock passes both return windows
    return log.records


async def test_a_return_window_pays_the_honest_friends_referrer_and_not_the_hired_buyers() -> None:
    summary = (await replay(paid_and_refunded(), on_payment("7d"), on_payment(None), in_process=True)).summary()
    windowed, at_payment = flows(summary["new"]), flows(summary["baseline"])
    # released by the payment: the trial and the organiser's gift go out, the refund marks the
    # gift, but a delivered gift is not recovered (and the trial was the buyer's own)
    hired = at_payment["pay_release_refund"]
    assert hired["released"] == cell(2, 50.0) and hired["clawed_back"] == cell(1, 50.0)
    assert hired["kept"] == cell(2, 50.0)
    # with a 7-day return window: the refund within it voids both; nothing was ever delivered
    hired = windowed["pay_release_refund"]
    assert hired["voided"] == cell(2, 50.0)
    assert hired["released"] == cell(0, 0.0) and hired["kept"] == cell(0, 0.0)
    # the honest friend's trial and her referrer's gift, released once the payment stood 7 days
    assert windowed["parents"]["released"] == cell(2, 50.0) and windowed["parents"]["kept"] == cell(2, 50.0)


def linked_world() -> list[Record]:
    """A farmer labelled fraud; a later account pays on the farmer's phone, one on its own does too."""
    log = Log("k")
    add = log.add

    add(0, "signup", "farmer", "shared_backend", device="dv-rack")  # the store sees its device
    add(1, "label", "farmer", "shared_backend", label="fraud")  # blocks it, watches dv-rack
    add(2, "referral", "alt1", "shared_backend", referrer="org9", device="dv-alt1")  # trial + org9's gift held
    add(3, "referral", "friend2", "parents", referrer="mum3", device="dv-fr2")
    add(5, "order_paid", "alt1", "shared_backend", amount=99, device="dv-rack")  # pays on the watched phone
    add(6, "order_paid", "friend2", "parents", amount=99, device="dv-fr2")
    return log.records


async def test_a_paid_order_on_a_labelled_farmers_device_releases_nothing_in_replay() -> None:
    linked_pack = on_payment(None)
    files = {"pack.yaml": linked_pack.files["pack.yaml"].replace(
        CLAWBACK, "clawback: {on: [fraud_label, chargeback, refund_released, linked_at_checkout], window: 30d}"
    )}  # fmt: skip
    summary = (
        await replay(linked_world(), PackSource(files, BackendKind.PYTHON), linked_pack, in_process=True)
    ).summary()
    linked, unlinked = flows(summary["new"]), flows(summary["baseline"])
    assert unlinked["shared_backend"]["released"] == cell(2, 50.0)  # the pack that does not look at checkout
    # the farmer's trial by its label; alt1's trial and org9's gift before alt1's order could release them
    assert linked["shared_backend"]["voided"] == cell(3, 50.0)
    assert linked["shared_backend"]["kept"] == cell(0, 0.0)
    assert linked["parents"]["released"] == cell(2, 50.0) == unlinked["parents"]["released"]


# -- a checkout the rules deny: the farm's held trials are not released by its later visits --
WALLET_RULE = """
  - id: wallet_of_many
    code: 1299
    on: [order]
    when: payment.accounts_30d >= 3
    score: 80
    reason: {zh: 一个钱包付多个账号, en: one wallet pays for many accounts}
"""


def denied_checkout_pack(on: str) -> PackSource:
    text = PACK % {"held": HELD, "clawback": f"clawback: {{on: [{on}], window: 30d}}"}
    text = with_feature(text, "payment.accounts_30d: {distinct: customer, by: payment, window: 30d}")
    text = text.replace("rules:\n", "rules:\n" + WALLET_RULE.lstrip("\n"), 1)
    return pack_of(text)


LOCKER = "上海市浦东新区张杨路1500号 丰巢快递柜"


def farm_that_pays() -> list[Record]:
    """Three farm accounts sign up (trial held), pay from one wallet and come in; parents on one family tablet
    and neighbours sharing the farm's parcel locker each pay from their own wallet."""
    log = Log("d")
    add = log.add

    for i, who in enumerate(("f1", "f2", "f3")):
        add(i, "signup", who, "self_dealing_paid", device=f"dv-f{i}")
    for who in ("mum1", "mum2"):  # one family tablet, each parent her own wallet
        add(4, "signup", who, "parents", device="dv-family")
    for who in ("n1", "n2", "n3"):  # neighbours with their own phones, collecting at the farm's parcel locker
        add(5, "signup", who, "parents", device=f"dv-{who}")
    for i, who in enumerate(("f1", "f2", "f3")):
        add(10 + i, "order", who, "self_dealing_paid", amount=69, payment="pay-farm", address=LOCKER)
        add(10.1 + i, "order_paid", who, "self_dealing_paid", amount=69)
    for who in ("mum1", "mum2", "n1", "n2", "n3"):
        add(14, "order", who, "parents", amount=69, payment=f"pay-{who}", address=LOCKER if who[0] == "n" else None)
        add(14.1, "order_paid", who, "parents", amount=69)
    for who in ("f1", "f2", "f3", "mum1", "mum2", "n1", "n2", "n3"):  # everyone comes in: the visit releases
        add(48, "store_visit", who, "self_dealing_paid" if who[0] == "f" else "parents")
    return log.records


async def test_a_denied_checkout_voids_the_payers_held_trial_before_its_visit_releases_it() -> None:
    acting, blind = denied_checkout_pack("denied_at_checkout"), denied_checkout_pack("fraud_label")
    summary = (await replay(farm_that_pays(), acting, blind, in_process=True)).summary()
    new, old = flows(summary["new"]), flows(summary["baseline"])
    # f3's order is the wallet's third account: denied, and with it the trials of f1 and f2, whose
    # orders that wallet paid before it showed; their visits two days later release nothing
    assert old["self_dealing_paid"]["released"] == cell(3, 0.0)
    assert new["self_dealing_paid"]["voided"] == cell(3, 0.0)
    assert new["self_dealing_paid"]["kept"] == cell(0, 0.0)
    assert new["parents"]["released"] == cell(5, 0.0) == old["parents"]["released"]  # the locker links nobody
    assert new["parents"]["voided"] == cell(0, 0.0)


# -- a held gift for someone else is not released by a payer linked to its beneficiary --------
def self_referral_world() -> list[Record]:
    """A farmer refers an alt on his own phone; a mum refers a friend on the friend's own phone. Both come in."""
    log = Log("s")
    add = log.add

    add(0, "signup", "farmer", "referral_tree", device="dv-farmer")
    add(0.5, "signup", "mum", "parents", device="dv-mum")
    add(1, "referral", "alt1", "referral_tree", referrer="farmer", device="dv-farmer")
    add(2, "referral", "friend", "parents", referrer="mum", device="dv-friend")
    add(48, "store_visit", "alt1", "referral_tree")
    add(49, "store_visit", "friend", "parents")
    return log.records


async def test_an_invitee_on_the_referrers_phone_releases_no_gift_in_replay_a_friend_does() -> None:
    text = reading_links("signup, referral")
    summary = (await replay(self_referral_world(), pack_of(text), in_process=True)).summary()
    flow = flows(summary["new"])
    assert flow["referral_tree"]["voided"] == cell(1, 50.0)  # the farmer's gift: alt1 is on his phone
    assert flow["referral_tree"]["released"] == cell(1, 0.0)  # alt1's own trial: its own visit
    assert flow["parents"]["released"] == cell(2, 50.0)  # the friend's trial and mum's gift


# -- a denied group-buy join linked to its leader voids the leader's held trial (self_filled_group) --
GROUP_RULE = """
  - id: same_device_member
    code: 1298
    on: [group_buy_join]
    when: device.accounts_24h >= 2 and customer.linked_accounts_30d >= 0
    score: 80
    reason: {zh: 同一设备的拼团成员, en: a group-buy member on another account's phone}
"""


def self_filled_pack(on: str) -> PackSource:
    text = PACK % {"held": HELD, "clawback": f"clawback: {{on: [{on}], window: 30d}}"}
    text = with_feature(text, LINKED)
    text = text.replace("rules:\n", "rules:\n" + GROUP_RULE.lstrip("\n"), 1)
    trial = "    on: [signup, referral]\n    effect: {type: trial"
    text = text.replace(trial, trial.replace("referral]", "referral, group_buy_join]"))  # a group-buy trial too
    return pack_of(text)


def self_filled_world() -> list[Record]:
    """A 团长 opens a group (her trial held) and an alt on her phone joins it; a farm's alt on its own farm
    phone joins an honest mum's open group. Everyone who can comes in two days later."""
    log = Log("g")
    add = log.add

    add(0, "group_buy_join", "lead", "group_leader_farm", device="dv-lead", group="gb-1")
    add(0.1, "group_buy_join", "mum", "parents", device="dv-mum", group="gb-2")
    add(0.2, "signup", "farm0", "self_dealing_paid", device="dv-farm")
    add(0.5, "group_buy_join", "alt1", "group_leader_farm", device="dv-lead", group="gb-1", referrer="lead")
    add(0.6, "group_buy_join", "farm1", "self_dealing_paid", device="dv-farm", group="gb-2", referrer="mum")
    for who, family in (("lead", "group_leader_farm"), ("mum", "parents")):
        add(48, "store_visit", who, family)
    return log.records


async def test_an_alt_on_the_leaders_phone_denied_in_her_group_voids_her_trial_a_stranger_does_not() -> None:
    acting, blind = self_filled_pack("self_filled_group"), self_filled_pack("fraud_label")
    summary = (await replay(self_filled_world(), acting, blind, in_process=True)).summary()
    new, old = flows(summary["new"]), flows(summary["baseline"])
    assert old["group_leader_farm"]["released"] == cell(1, 0.0)  # without it her own visit releases her trial
    assert new["group_leader_farm"]["voided"] == cell(1, 0.0)  # alt1 is on her phone: the group is hers alone
    assert new["group_leader_farm"]["kept"] == cell(0, 0.0)
    # farm1 is denied in mum's group too, but shares nothing with her: her trial is released by her visit
    assert new["parents"]["released"] == cell(1, 0.0) == old["parents"]["released"]
    assert new["parents"]["voided"] == cell(0, 0.0)


LEADER_GIFT = """  - id: leader_gift
    label: 团长礼
    tiers: [occasional]
    on: [group_buy_join]
    beneficiary: referrer
    effect: {type: gift, value: 50, description: 好友到店拍摄后赠送团长精修照片}
    hold: {until: store_visit, void_after: 30d}
"""


async def test_a_leaders_gift_is_not_released_by_an_alt_on_her_phone_a_friend_releases_it() -> None:
    text = reading_links("signup, group_buy_join")
    text = text.replace("offers:\n", "offers:\n" + LEADER_GIFT, 1)
    log = Log("l")
    add = log.add

    add(0, "group_buy_join", "lead", "group_leader_farm", device="dv-lead", group="gb-1")
    add(0.5, "group_buy_join", "alt1", "group_leader_farm", device="dv-lead", group="gb-1", referrer="lead")
    add(0.6, "group_buy_join", "friend", "parents", device="dv-friend", group="gb-1", referrer="lead")
    add(48, "store_visit", "alt1", "group_leader_farm")  # the alt's voucher, sold on and used
    add(49, "store_visit", "friend", "parents")
    summary = (await replay(log.records, pack_of(text), in_process=True)).summary()
    flow = flows(summary["new"])
    assert flow["group_leader_farm"]["voided"] == cell(1, 50.0)  # her gift on alt1's visit: alt1 is on her phone
    assert flow["parents"]["released"] == cell(1, 50.0)  # the friend's visit releases the leader's gift
