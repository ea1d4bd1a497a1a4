"""The simulator's branch stacking, its honest look-alikes, and code resale as the trade works it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest

from engine.simulate.generate import SimulationConfig, simulate
from tests.engine.sim_helpers import by_family


@pytest.fixture(scope="module")
def families() -> defaultdict[str, list[dict[str, Any]]]:
    return by_family(list(simulate(SimulationConfig(events=20_000, seed=5))))


def _branch(record: dict[str, Any]) -> str | None:
    return record.get("attributes", {}).get("branch")


def _at(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(record["timestamp"]).timestamp()


def test_a_branch_stacker_takes_each_branchs_newcomer_offer_keeping_a_number_a_phone_or_an_account(
    families: dict[str, Any],
) -> None:
    stack = families["branch_stacking"]
    claims = [r for r in stack if r["type"] == "coupon_claim"]
    assert claims and all(r["campaign"] == "newcomer_gift" and _branch(r) for r in claims)
    branches: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for r in stack:
        if r["type"] in ("signup", "coupon_claim") and _branch(r):
            for key in ("phone", "device", "customer"):
                branches[(key, r[key])].add(_branch(r) or "")
    kept = [k for k, seen in branches.items() if len(seen) >= 2]
    assert kept and {k for k, _ in kept} >= {"device", "customer"}


def test_a_family_at_two_branches_signs_up_on_two_phones_and_a_mover_keeps_her_number(
    families: dict[str, Any],
) -> None:
    family = families["two_branch_family"]
    signups = [r for r in family if r["type"] == "signup"]
    assert signups and all(_branch(r) for r in signups)
    by_phone: defaultdict[str, set[str]] = defaultdict(set)
    by_device: defaultdict[str, set[str]] = defaultdict(set)
    for r in signups:
        by_phone[r["phone"]].add(_branch(r) or "")
        by_device[r["device"]].add(_branch(r) or "")
    assert all(len(b) == 1 for b in by_phone.values()) and all(len(b) == 1 for b in by_device.values())
    assert any(r["type"] == "order_paid" for r in family)  # they are customers


def test_a_resold_code_sells_over_hours_to_strangers_each_on_their_own_phone(families: dict[str, Any]) -> None:
    resale = families["code_resale"]
    claims = [r for r in resale if r["type"] == "coupon_claim"]
    assert claims and all(r["coupon"].startswith("QUN") for r in claims)
    assert max(map(_at, claims)) - min(map(_at, claims)) > 3 * 3600  # a listing, not a minute's burst
    devices = [r["device"] for r in claims]
    assert len(set(devices)) >= 0.9 * len(devices)  # real strangers, one code each
