"""The simulator's honest waves (engine/simulate/waves.py): what makes each look like a farm, and what does not."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest

from engine.simulate.generate import SimulationConfig, simulate
from tests.engine.sim_helpers import by_family


@pytest.fixture(scope="module")
def families() -> defaultdict[str, list[dict[str, Any]]]:
    return by_family(list(simulate(SimulationConfig(events=20_000, seed=7))))


def _at(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(record["timestamp"]).timestamp()


def test_a_campus_wave_is_dozens_on_one_nat_within_the_lunch_hour_each_on_their_own_phone(
    families: dict[str, Any],
) -> None:
    wave = families["campus_lunch_wave"]
    signups = [r for r in wave if r["type"] in ("signup", "referral")]
    by_nat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in signups:
        by_nat[r["ip"].rsplit(".", 2)[0]].append(r)  # one campus: one local /16, one to three /24s
    biggest = max(by_nat.values(), key=len)
    assert len(biggest) >= 10
    assert len({r["ip"] for r in biggest}) <= 4 and len({r["ip"].rsplit(".", 1)[0] for r in biggest}) <= 3
    times = sorted(_at(r) for r in biggest)
    assert times[-1] - times[0] <= 95 * 60
    assert len({r["device"] for r in signups}) == len(signups)  # each student on their own phone
    assert any(r["type"] == "referral" for r in signups)
    claims = [r for r in wave if r["type"] == "coupon_claim"]
    assert len(claims) >= 0.5 * len(signups)
    assert min(r["attributes"]["seconds_since_signup"] for r in claims) >= 5  # a thumb, not a script
    payers = {r["customer"] for r in wave if r["type"] == "order_paid"}
    assert 0.05 * len(signups) <= len(payers) <= 0.6 * len(signups)  # a fraction buy the cheap trial
    orders = [r for r in wave if r["type"] == "order"]
    assert len({r["payment"] for r in orders}) == len({r["customer"] for r in orders})  # each from their own wallet


def test_a_partner_class_signs_up_through_its_teachers_link_and_mostly_buys(families: dict[str, Any]) -> None:
    cls = families["partner_class"]
    referrals = [r for r in cls if r["type"] == "referral"]
    assert referrals and len({r["referrer"] for r in referrals}) <= len(referrals) / 5
    payers = {r["customer"] for r in cls if r["type"] == "order_paid"}
    assert len(payers) >= 0.4 * len({r["customer"] for r in referrals})


def test_grandparents_sign_up_on_their_grandchilds_family_phone(families: dict[str, Any]) -> None:
    grand = families["grandparents_phone"]
    signups = [r for r in grand if r["type"] == "signup"]
    by_device: dict[str, set[str]] = defaultdict(set)
    for r in grand:
        if r.get("device"):
            by_device[r["device"]].add(r["customer"])
    assert max(len(c) for c in by_device.values()) >= 2
    assert len({r["phone"] for r in signups}) == len(signups)  # each grandparent on their own number


def test_the_wider_campus_set_varies_size_network_and_handsets_and_leaves_the_default_mix_alone() -> None:
    records = list(simulate(SimulationConfig(events=30_000, seed=41, family_sets=("lookalikes",))))
    wide = [r for r in records if r["family"] == "campus_wave_wide"]
    assert wide and all(r["truth"] == "honest" for r in wide)
    signups = [r for r in wide if r["type"] in ("signup", "referral")]
    assert len({r["device"] for r in signups}) == len(signups)  # each student on their own phone
    assert any(":" in r["ip"] for r in signups) or len({r["ip"] for r in signups}) < len(signups) / 3
    payers = {r["customer"] for r in wide if r["type"] == "order_paid"}
    assert payers  # they buy
    default = {r["family"] for r in simulate(SimulationConfig(events=5_000, seed=41))}
    assert "campus_wave_wide" not in default
