"""``branch``: the distinct branches a phone, a phone number or an account took newcomer offers at.

A merchant with branches names the event's branch in ``attributes.branch`` (docs/api.md,
"Branches"). A person taking every branch's newcomer offer signs up again at each branch
under a branch-local customer id, keeping the number or the phone; the features count the
branches those sign-ups came from. Checked against a brute-force recomputation on a random
stream (one server and the cluster), then the tactic and its honest look-alikes.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from feature_backends import Backend
from feature_oracle import Oracle
from feature_stream import START

from engine.events import Event
from engine.features.spec import Aggregate, Entity, WindowedFeature


def _distinct(name: str, by: Entity, on: set[str], days: int) -> WindowedFeature:
    return WindowedFeature(name, Aggregate.DISTINCT, by, days * 86400, frozenset(on), field="branch")


PHONE = _distinct("phone.signup_branches_30d", Entity.PHONE, {"signup", "referral"}, 30)
DEVICE = _distinct("device.signup_branches_30d", Entity.DEVICE, {"signup", "referral"}, 30)
CLAIMS = _distinct("customer.claim_branches_30d", Entity.CUSTOMER, {"coupon_claim"}, 30)
SPECS = (PHONE, DEVICE, CLAIMS)
BRANCHES: tuple[object, ...] = ("wangjing", "guomao", "tongzhou", " guomao ", "", None, 7, True)
_n = iter(range(100_000))


def _event(kind: str, customer: str, days: float, branch: object = None, **fields: object) -> Event:
    attributes = {} if branch is None else {"branch": branch}
    return Event(
        event_id=f"brn{next(_n)}",
        type=kind,
        customer=customer,
        timestamp=START + timedelta(days=days),
        attributes=attributes,  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def _stream(seed: int, count: int) -> list[Event]:
    rng = random.Random(seed)
    events, day = [], 0.0
    for _ in range(count):
        day += rng.choice((0.0, 0.01, 0.5, 1.0, 3.0))  # some on one instant, some across the window's edge
        kind = rng.choice(("signup", "referral", "coupon_claim", "order", "store_visit"))
        events.append(
            _event(
                kind,
                f"c{rng.randrange(8)}",
                day,
                rng.choice(BRANCHES),
                device=f"d{rng.randrange(4)}",
                phone=f"+86138000000{rng.randrange(5):02d}",
                campaign="newcomer_gift" if kind == "coupon_claim" else None,
            )
        )
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_branch_counts_match_brute_force(backend: Backend, tenant: str, seed: int) -> None:
    store, oracle = backend.store(), Oracle()
    for event in _stream(seed, 160):
        if event.type == "store_visit":
            assert await store.record_outcome(tenant=tenant, event=event, specs=SPECS)
            oracle.log.append(event)
            continue
        expected = oracle.values(SPECS, event)
        got = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
        assert {name: got[name] for name in expected} == expected, event
        oracle.log.append(event)


async def _read(backend: Backend, tenant: str, event: Event) -> dict[str, object]:
    return dict((await backend.store().record_and_read(tenant=tenant, event=event, specs=SPECS)).values)


async def test_one_number_at_three_branches_counts_three(backend: Backend, tenant: str) -> None:
    # attack: the newcomer trial at every branch, a new branch-local id each time, one number and one phone
    seen = []
    for day, branch in enumerate(("wangjing", "guomao", "tongzhou")):
        signup = _event("signup", f"stack{day}", day, branch, device="d-stack", phone="+8613800000001")
        seen.append((await _read(backend, tenant, signup))[PHONE.name])
    assert seen == [1, 2, 3]
    claim = _event("coupon_claim", "stack2", 2.01, "tongzhou", device="d-stack", campaign="newcomer_gift")
    assert (await _read(backend, tenant, claim))[DEVICE.name] == 3  # the claim carries no number: the phone says it


async def test_one_account_claiming_each_branch_gift_counts_its_branches(backend: Backend, tenant: str) -> None:
    for day, branch in enumerate(("wangjing", "guomao")):
        claim = _event("coupon_claim", "one", day, branch, device="d-one", campaign="newcomer_gift")
        value = (await _read(backend, tenant, claim))[CLAIMS.name]
    assert value == 2


async def test_two_parents_on_their_own_phones_at_two_branches_count_one_each(backend: Backend, tenant: str) -> None:
    # honest look-alike: mother at the branch near home, father near work, one home, one Wi-Fi
    mother = _event("signup", "mum", 0, "wangjing", device="d-mum", phone="+8613800000011", ip="60.177.179.252")
    father = _event("signup", "dad", 2, "guomao", device="d-dad", phone="+8613800000012", ip="60.177.179.252")
    assert (await _read(backend, tenant, mother))[PHONE.name] == 1
    values = await _read(backend, tenant, father)
    assert values[PHONE.name] == 1 and values[DEVICE.name] == 1


async def test_a_customer_who_moved_months_ago_counts_the_new_branch_only(backend: Backend, tenant: str) -> None:
    old = _event("signup", "before", 0, "wangjing", device="d-old", phone="+8613800000021")
    moved = _event("signup", "after", 120, "tongzhou", device="d-new", phone="+8613800000021")
    assert (await _read(backend, tenant, old))[PHONE.name] == 1
    assert (await _read(backend, tenant, moved))[PHONE.name] == 1


async def test_no_branch_or_a_blank_one_counts_nothing(backend: Backend, tenant: str) -> None:
    # a storefront that does not say (or sends a number, a blank) names no branch, never "another" one
    for day, branch in enumerate((None, "", "  ", 7, True)):
        signup = _event("signup", f"nb{day}", day, branch, device="d-nb", phone="+8613800000031")
        assert (await _read(backend, tenant, signup))[PHONE.name] == 0
    spelled = _event("signup", "sp", 9, " guomao ", device="d-nb", phone="+8613800000031")
    again = _event("signup", "sp2", 10, "guomao", device="d-nb", phone="+8613800000031")
    assert (await _read(backend, tenant, spelled))[PHONE.name] == 1
    assert (await _read(backend, tenant, again))[PHONE.name] == 1
