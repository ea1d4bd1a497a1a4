"""The simulator's IP geography (engine/simulate/lines.py): where parents' and farms' lines are.

The pack places an address with ip2region (engine/geo.py), so the simulator's lines are
tested against the same database: parents on the studio's area's lines (a few away from
home, per seed), a dial-up (秒拨) vendor's lines over many provinces or a few, rotated per
request for most accounts, kept for the session by some, as each seed draws.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import pytest

from engine.geo import ip_region
from engine.simulate.context import Sim
from engine.simulate.generate import SimulationConfig, simulate
from engine.simulate.lines import STUDIO_AREA, line_anywhere, line_in, local_line, province_prefixes
from tests.engine.sim_helpers import by_family

AREA = frozenset(STUDIO_AREA)


def test_every_province_drawn_from_is_where_ip2region_places_it() -> None:
    rng = random.Random(7)
    index = province_prefixes()
    assert len(index) >= 28 and set(STUDIO_AREA) <= set(index)
    for province in index:
        placed = [ip_region(line_in(rng, (province,))) for _ in range(20)]
        assert placed.count(province) >= 19, (province, placed)
    assert {ip_region(local_line(rng)) for _ in range(300)} <= AREA
    nationwide = [ip_region(line_anywhere(rng)) for _ in range(600)]
    assert len(set(nationwide)) >= 25 and sum(p in AREA for p in nationwide) / 600 < 0.2


def _lines(seed: int) -> tuple[dict[str, Any], float, list[list[str]]]:
    """A seed's knobs, its parents' share of sign-ups from outside the area, its dial-up accounts' addresses."""
    sim = Sim.create(seed, SimulationConfig().start, 14)
    families = by_family(list(simulate(SimulationConfig(events=8000, seed=seed), sim)))
    signups = [r for r in families["parents"] if r["type"] in ("signup", "referral") and r.get("ip")]
    away = sum(ip_region(r["ip"]) not in AREA for r in signups) / len(signups)
    accounts: defaultdict[str, list[str]] = defaultdict(list)
    for record in families["shared_backend"]:
        if record["type"] in ("signup", "coupon_claim", "order"):
            accounts[record["customer"]].append(record["ip"])
    return sim.knobs.values, away, list(accounts.values())


@pytest.mark.parametrize("seed", [1, 2])
def test_parents_are_on_the_studio_areas_lines_a_few_away_from_home(seed: int) -> None:
    knobs, away, _ = _lines(seed)
    assert 0.0 < away <= 0.1, away  # a grandparent signing up from home, a family that just moved
    assert abs(away - float(knobs["parents.away_line_share"])) < 0.03, (away, knobs["parents.away_line_share"])


def test_a_dial_up_vendor_rotates_lines_across_provinces_as_each_seed_says() -> None:
    """Seed 5's vendor is nationwide, seed 3's has lines in one province (and a few in the studio's area)."""
    seen = {}
    for seed in (3, 5):
        knobs, _, accounts = _lines(seed)
        provinces = {ip_region(ip) for account in accounts for ip in account}
        rotating = sum(len(set(account)) > 1 for account in accounts) / len(accounts)
        outside = sum(ip_region(ip) not in AREA for account in accounts for ip in account) / sum(map(len, accounts))
        seen[seed] = (knobs["shared_backend.dialup_provinces"], len(provinces), rotating, outside)
        sticky = float(knobs["shared_backend.sticky_line_share"])
        local = float(knobs["shared_backend.local_line_share"])
        assert abs(rotating - (1 - sticky)) <= 0.25, seen  # 秒拨 per request, or one line per account
        assert outside <= 1 - local + 0.15, seen  # the vendor's lines in the studio's area are local
    assert seen[5][0] == 0 and seen[5][1] >= 20, seen  # nationwide
    assert seen[3][0] == 1 and seen[3][1] <= 6, seen  # one province per session, and the local lines
