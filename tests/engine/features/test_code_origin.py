"""A code's learned origin on a real Redis and a real cluster (engine/features/code_origin.py).

``customer.tied_to_code_origin`` and ``coupon.origin_members_30d`` are checked against a
brute-force recomputation over a random stream of joins, leaves, referrals, payments and
redemptions of a few code series; then the tactic (a listing's strangers) and the tied
look-alikes (a group's members, a partner class through its teacher, grandma on her
daughter's phone, an old customer).
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta

import pytest
from feature_backends import Backend
from feature_stream import START

from engine.events import OUTCOME_TYPES, Event
from engine.features.code_origin import ORIGIN_CAP, STRANGER_CAP, series
from engine.features.spec import (
    ANCHORED_TO_CODE_ORIGIN,
    ORIGIN_MEMBERS,
    ORIGIN_STRANGERS,
    TIED_TO_CODE_ORIGIN,
    CodeOriginFeature,
    Entity,
    LinkFeature,
    LinkMetric,
    OriginMetric,
    ReferralFeature,
    ReferralMetric,
)

D = 86_400
TIED = CodeOriginFeature(TIED_TO_CODE_ORIGIN, OriginMetric.TIED)
MEMBERS = CodeOriginFeature(ORIGIN_MEMBERS, OriginMetric.MEMBERS)
ANCHORED = CodeOriginFeature(ANCHORED_TO_CODE_ORIGIN, OriginMetric.ANCHORED)
STRANGERS = CodeOriginFeature(ORIGIN_STRANGERS, OriginMetric.STRANGERS, 7 * D)
# what the shipped pack also records: an upline (a referrer's feature), links (lk:f, lk:peers)
INVITEES = ReferralFeature("referrer.invitees_7d", ReferralMetric.INVITEES, 7 * D)
LINKED = LinkFeature("customer.linked_accounts_30d", LinkMetric.ACCOUNTS, 30 * D, (Entity.DEVICE,))
SPECS = (TIED, MEMBERS, ANCHORED, STRANGERS, INVITEES, LINKED)
_n = iter(range(1_000_000))


def _event(kind: str, customer: str, days: float, **fields: object) -> Event:
    return Event.model_validate(
        {"event_id": f"og{next(_n)}", "type": kind, "customer": customer,
         "timestamp": START + timedelta(days=days), **fields}
    )  # fmt: skip


async def _send(backend: Backend, tenant: str, event: Event) -> dict[str, object] | None:
    store = backend.store()
    if event.type in OUTCOME_TYPES:
        await store.record_outcome(tenant=tenant, event=event, specs=SPECS)
        return None
    return (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values


class Brute:
    """The module docstring's definitions, recomputed from the whole history (no links: one device each)."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.paid: set[str] = set()
        self.groups: dict[str, set[str]] = defaultdict(set)
        self.referrer: dict[str, str] = {}
        self.origin: dict[str, dict[str, float]] = defaultdict(dict)
        self.strangers: dict[str, dict[str, float]] = defaultdict(dict)

    def see(self, e: Event) -> tuple[bool, int, bool, int] | None:
        t, c = e.epoch, e.customer
        answer = None
        if e.coupon is not None and e.type not in OUTCOME_TYPES:
            stored = [f"u:{self.referrer[c]}"] if c in self.referrer else []
            stored += [f"g:{g}" for g in sorted(self.groups[c])]
            anchors = [f"u:{c}", *stored]
            named = [] if e.group is None else [f"g:{e.group}"]  # the event's group: anchors, never ties
            history = (c in self.first and self.first[c] <= t - 7 * D) or c in self.paid
            vouched = c in self.referrer or bool(self.groups[c])
            origin = self.origin[series(e.coupon)]
            live = {m for m, at in origin.items() if at > t - 30 * D}
            grouped = any(a in live for a in named)
            own = history or any(a in live for a in anchors)  # what teaches: never the event's group
            tied = own or grouped
            anchored = grouped or any(a in live for a in anchors[1:])  # not itself: its own redemption taught it
            strangers = self.strangers[series(e.coupon)]
            recent = sum(1 for at in strangers.values() if at > t - 7 * D)
            answer = (tied, sum(1 for m in live if m.startswith("t:")), anchored, recent)
            if own or vouched:
                for a in [*anchors, *named, f"t:{c}"]:
                    origin[a] = t
                assert len(origin) <= ORIGIN_CAP  # the stream stays under the cap: no trim to model
            elif not grouped:
                strangers[c] = t
                assert len(strangers) <= STRANGER_CAP
        self.first.setdefault(c, t)
        if e.type == "order_paid":
            self.paid.add(c)
        if e.type == "member_joined" and e.group:
            self.groups[c].add(e.group)
        if e.type == "member_left" and e.group:
            self.groups[c].discard(e.group)
        if e.type == "referral" and e.referrer and c not in self.referrer:
            self.referrer[c] = e.referrer
        return answer


def _stream(rng: random.Random) -> list[Event]:
    people = [f"p{i}" for i in range(40)]
    codes = ["QUN01-A1", "QUN01-B2", "QUN02-C3", "LISTED", "X-1", "CLASS_9_Z"]
    groups = ["parents-01", "parents-02", "class-3"]
    events, day = [], 0.0
    for _ in range(260):
        day += rng.expovariate(1 / 0.25)  # ~65 days: origins leave the 30-day window
        who = rng.choice(people)
        roll = rng.random()
        fields: dict[str, object] = {"device": f"dv-{who}"}
        if roll < 0.15:
            kind, fields = rng.choice(["member_joined", "member_joined", "member_left"]), {"group": rng.choice(groups)}
        elif roll < 0.25:
            kind, fields["referrer"] = "referral", rng.choice(people)
        elif roll < 0.32:
            kind, fields = "order_paid", {"amount": 99.0}
        elif roll < 0.4:
            kind = "signup"
        else:
            kind = rng.choice(["coupon_claim", "coupon_claim", "order"])
            fields["coupon"] = rng.choice(codes)
            if rng.random() < 0.2:
                fields["group"] = rng.choice(groups)
        events.append(_event(kind, who, day, **fields))
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_against_a_brute_force_recomputation(backend: Backend, tenant: str, seed: int) -> None:
    brute = Brute()
    checked = tied_false = anchored = strangers = 0
    for event in _stream(random.Random(seed)):
        want = brute.see(event)
        got = await _send(backend, tenant, event)
        if want is None:
            if got is not None:
                assert got[TIED_TO_CODE_ORIGIN] is None and got[ORIGIN_MEMBERS] is None
                assert got[ANCHORED_TO_CODE_ORIGIN] is None and got[ORIGIN_STRANGERS] is None
            continue
        assert got is not None
        names = (TIED_TO_CODE_ORIGIN, ORIGIN_MEMBERS, ANCHORED_TO_CODE_ORIGIN, ORIGIN_STRANGERS)
        assert tuple(got[n] for n in names) == want, event
        checked += 1
        tied_false += not want[0]
        anchored += want[2]
        strangers += want[3] > 0
    assert checked > 100 and 10 < tied_false < checked - 10  # both answers are exercised
    assert 10 < anchored < checked - 10 and 10 < strangers < checked - 10


async def _claim(backend: Backend, tenant: str, who: str, days: float, code: str, **fields: object) -> tuple:
    got = await _send(backend, tenant, _event("coupon_claim", who, days, coupon=code, **fields))
    assert got is not None
    return got[TIED_TO_CODE_ORIGIN], got[ORIGIN_MEMBERS]


async def test_a_listing_s_strangers_are_outsiders_and_the_tied_look_alikes_are_not(
    backend: Backend, tenant: str
) -> None:
    store = backend.store()
    for mum in ("mum1", "mum2"):
        await store.record_outcome(tenant=tenant, event=_event("member_joined", mum, 0, group="p-21"), specs=SPECS)
    # nobody taught the series yet: a member is tied by nothing but teaches it
    assert await _claim(backend, tenant, "mum1", 0.1, "QUN21-AAAA", device="dv-mum1") == (False, 0)
    assert await _claim(backend, tenant, "mum2", 0.2, "qun21-bbbb", device="dv-mum2") == (True, 1)  # same group
    # a stranger who signed up minutes ago: no tie; he teaches nothing, so the next one sees 2 teachers still
    await _send(backend, tenant, _event("signup", "buyer1", 0.5, device="dv-b1"))
    assert await _claim(backend, tenant, "buyer1", 0.51, "QUN21-CCCC", device="dv-b1") == (False, 2)
    assert await _claim(backend, tenant, "buyer2", 0.9, "QUN21-DDDD", device="dv-b2") == (False, 2)
    # naming the code's own group on the event ties (a parent opening it from the group's link), teaches nothing
    assert await _claim(backend, tenant, "buyer3", 0.92, "QUN21-XXXX", device="dv-b3", group="p-21") == (True, 2)
    # a partner class: the teacher (a member) used the code, her parents came through her referral
    await store.record_outcome(tenant=tenant, event=_event("member_joined", "teacher", 0.94, group="p-21"), specs=SPECS)
    assert await _claim(backend, tenant, "teacher", 0.95, "QUN21-EEEE", device="dv-t", group="p-21") == (True, 2)
    await _send(backend, tenant, _event("referral", "parent1", 1.0, referrer="teacher", device="dv-p1"))
    assert await _claim(backend, tenant, "parent1", 1.01, "QUN21-FFFF", device="dv-p1") == (True, 3)
    # grandma on mum1's phone: linked to a member who taught the origin
    await _send(backend, tenant, _event("signup", "grandma", 1.1, device="dv-mum1"))
    assert (await _claim(backend, tenant, "grandma", 1.11, "QUN21-GGGG", device="dv-mum1"))[0] is True
    # buyer1's checkout two days later is still a stranger's; an old customer from elsewhere has history
    got = await _send(backend, tenant, _event("order", "buyer1", 2.5, coupon="QUN21-CCCC", device="dv-b1"))
    assert got is not None and got[TIED_TO_CODE_ORIGIN] is False
    await _send(backend, tenant, _event("signup", "old", -8.0, device="dv-old"))
    assert (await _claim(backend, tenant, "old", 2.0, "QUN21-HHHH", device="dv-old"))[0] is True
    await store.record_outcome(tenant=tenant, event=_event("order_paid", "buyer2", 2.6, amount=99.0), specs=SPECS)
    assert (await _claim(backend, tenant, "buyer2", 2.7, "QUN21-IIII", device="dv-b2"))[0] is True  # a payer
    # the origin is per series and per tenant; the window is 30 days
    assert await _claim(backend, tenant, "buyer3", 2.1, "QUN22-AAAA", device="dv-b3") == (False, 0)
    assert await _claim(backend, tenant + "x", "buyer4", 2.1, "QUN21-AAAA", device="dv-b4") == (False, 0)
    assert (await _claim(backend, tenant, "buyer5", 40.0, "QUN21-ZZZZ", device="dv-b5"))[1] == 0


async def test_only_scored_events_with_a_coupon_have_the_values(backend: Backend, tenant: str) -> None:
    got = await _send(backend, tenant, _event("signup", "kid", 0, device="dv-k"))
    assert got == {
        TIED_TO_CODE_ORIGIN: None, ORIGIN_MEMBERS: None, ANCHORED_TO_CODE_ORIGIN: None, ORIGIN_STRANGERS: None,
        INVITEES.name: None, LINKED.name: 0,
    }  # fmt: skip


async def test_the_origin_keeps_its_newest_members_in_one_slot(backend: Backend, tenant: str) -> None:
    store = backend.store()
    for i in range(ORIGIN_CAP):  # each member teaches 3 anchors (itself, its group, t:): past the cap
        who = f"m{i}"
        await store.record_outcome(tenant=tenant, event=_event("member_joined", who, 0, group=f"g{i}"), specs=SPECS)
        await _claim(backend, tenant, who, 0.001 * i, f"BIG-{i}", device=f"dv-{who}")
    keys = [key for _, key in await backend.raw_keys() if key.endswith(b":og")]
    assert len(keys) == 1 and b"cpn:BIG-}" in keys[0]
    node = next(n for n, key in await backend.raw_keys() if key.endswith(b":og"))
    assert await node.zcard(keys[0]) == ORIGIN_CAP
    assert 0 < await node.pttl(keys[0]) <= (30 * D + 3600) * 1000


def test_a_code_s_series() -> None:
    assert series("QUN09-7F3K") == "QUN09-"
    assert series("CLASS_9_Z") == "CLASS_9_"
    assert series("X-1") == "X-1"  # a head of one character is no series
    assert series("LISTED") == "LISTED"
    assert series("SALE-") == "SALE-"  # nothing after the separator: the code itself


async def _origin(backend: Backend, tenant: str, who: str, days: float, code: str, **fields: object) -> tuple:
    got = await _send(backend, tenant, _event("coupon_claim", who, days, coupon=code, **fields))
    assert got is not None
    return got[TIED_TO_CODE_ORIGIN], got[ANCHORED_TO_CODE_ORIGIN], got[ORIGIN_STRANGERS]


async def test_a_sold_code_s_strangers_and_the_customers_who_bought_it(backend: Backend, tenant: str) -> None:
    store = backend.store()
    for who, group in (("mum1", "p-31"), ("mum2", "p-31"), ("mum3", "p-31"), ("old", "p-32"), ("old2", "p-33")):
        await store.record_outcome(tenant=tenant, event=_event("member_joined", who, 0, group=group), specs=SPECS)
    await _origin(backend, tenant, "mum1", 0.1, "SHOP31-A", device="dv-mum1")
    assert await _origin(backend, tenant, "mum2", 0.2, "SHOP31-B", device="dv-mum2") == (True, True, 0)
    # a listing's buyers, one a few hours apart: each counted once, before its own redemption
    for i in range(4):
        assert await _origin(backend, tenant, f"buyer{i}", 0.5 + 0.2 * i, f"SHOP31-Z{i}", device=f"dv-b{i}") == (
            False, False, i,
        )  # fmt: skip
    assert (await _origin(backend, tenant, "buyer0", 1.4, "SHOP31-Z0", device="dv-b0"))[2] == 4  # no second count
    # a paying customer of group 32: tied by history, anchored by nothing of hers
    await store.record_outcome(tenant=tenant, event=_event("order_paid", "old", 0.05, amount=99.0), specs=SPECS)
    assert await _origin(backend, tenant, "old", 1.5, "SHOP31-Y", device="dv-old") == (True, False, 4)
    # the farmer's next move: naming the group the code came from on the event anchors her, as it ties
    # (a limit: the storefront names the group whose link opened the redemption, a caller can too);
    # a group the origin does not hold anchors nothing
    await store.record_outcome(tenant=tenant, event=_event("order_paid", "old2", 0.05, amount=99.0), specs=SPECS)
    got = await _origin(backend, tenant, "old2", 1.6, "SHOP31-X", device="dv-old2", group="p-40")
    assert got[:2] == (True, False)
    await store.record_outcome(tenant=tenant, event=_event("order_paid", "old3", 0.05, amount=99.0), specs=SPECS)
    got = await _origin(backend, tenant, "old3", 1.61, "SHOP31-V", device="dv-old3", group="p-31")
    assert got[:2] == (True, True)
    # a limit (docs/features.md): her claim taught her own group (p-33) to the origin, so her checkout
    # with the code is anchored by it (her own u: is not what anchors it)
    got = await _send(backend, tenant, _event("order", "old2", 1.65, coupon="SHOP31-X", device="dv-old2"))
    assert got is not None and got[ANCHORED_TO_CODE_ORIGIN] is True
    # the group's own member is anchored; so is a parent referred by a member who used the code
    assert (await _origin(backend, tenant, "mum3", 1.7, "SHOP31-C", device="dv-mum3"))[1] is True
    await _send(backend, tenant, _event("referral", "friend", 1.8, referrer="mum1", device="dv-fr"))
    assert (await _origin(backend, tenant, "friend", 1.81, "SHOP31-D", device="dv-fr"))[:2] == (True, True)
    # strangers leave the count after a week; another series has its own
    assert (await _origin(backend, tenant, "late", 9.0, "SHOP31-W", device="dv-late"))[2] == 0
    assert (await _origin(backend, tenant, "else", 1.9, "SHOP99-A", device="dv-else"))[2] == 0


async def test_a_series_remembers_its_newest_strangers_in_its_slot(backend: Backend, tenant: str) -> None:
    for i in range(STRANGER_CAP + 10):
        await _origin(backend, tenant, f"s{i}", 0.001 * i, f"FLOOD-{i}", device=f"dv-s{i}")
    assert (await _origin(backend, tenant, "next", 0.2, "FLOOD-N", device="dv-n"))[2] == STRANGER_CAP
    keys = [(node, key) for node, key in await backend.raw_keys() if key.endswith(b":og:s")]
    assert len(keys) == 1 and b"cpn:FLOOD-}" in keys[0][1]
    node, key = keys[0]
    assert await node.zcard(key) == STRANGER_CAP
    assert 0 < await node.pttl(key) <= (7 * D + 3600) * 1000
