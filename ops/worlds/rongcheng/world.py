"""One seed's world: the studio, its customers, the look-alikes and the farms, drawn and written.

Every family's share of the log and its tactics are drawn per seed (one ``random.Random`` per
family, seeded with the seed's text and the family's name, so one family's draws never shift
another's); ``params`` holds what was drawn, for ``--show-params``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ops.worlds.rongcheng import farms_accounts as fa
from ops.worlds.rongcheng import farms_campaigns as fc
from ops.worlds.rongcheng import lookalikes as la
from ops.worlds.rongcheng.city import City
from ops.worlds.rongcheng.log import Log, moment
from ops.worlds.rongcheng.parents import Parents
from ops.worlds.rongcheng.store import START, Ctx, Studio

TAIL_DAYS = 10

#: attack families and their mean share of the log (each drawn per seed within ±40%)
ATTACKS: dict[str, tuple[Callable[[Ctx, dict[str, Any], int], int], float]] = {
    "code_platform": (fa.code_platform, 0.015),
    "device_farm": (fa.device_farm, 0.02),
    "dialup_rotation": (fa.dialup_rotation, 0.015),
    "slow_drip": (fa.slow_drip, 0.008),
    "cloud_phones": (fa.cloud_phones, 0.012),
    "bought_accounts": (fa.bought_accounts, 0.01),
    "referral_tree": (fa.referral_tree, 0.015),
    "aged_accounts": (fc.aged_accounts, 0.015),
    "packet_scripts": (fc.packet_scripts, 0.015),
    "self_dealing_groupbuy": (fc.self_dealing_groupbuy, 0.01),
    "group_leader": (fc.group_leader, 0.012),
    "code_resale": (fc.code_resale, 0.008),
    "shared_backend": (fc.shared_backend, 0.012),
    "pay_release_refund": (fc.pay_release_refund, 0.01),
    "paid_for_you": (fc.paid_for_you, 0.01),
    "visit_refund": (fc.visit_refund, 0.008),
    "branch_stacking": (fc.branch_stacking, 0.006),
}
LOOKALIKES: dict[str, tuple[Callable[[Ctx, dict[str, Any], int], int], float]] = {
    "family_tablet": (la.family_tablet, 0.012),
    "campus_lunch_wave": (la.campus_lunch_wave, 0.012),
    "counter_tablet": (la.counter_tablet, 0.012),
    "popular_referrer": (la.popular_referrer, 0.012),
    "virtual_operator": (la.virtual_operator, 0.008),
    "grandparents_phone": (la.grandparents_phone, 0.006),
    "relatives_elsewhere": (la.relatives_elsewhere, 0.005),
    "partner_class": (la.partner_class, 0.008),
    "courier_locker": (la.courier_locker, 0.006),
}


def _rng(seed: int, name: str) -> random.Random:
    return random.Random(f"rongcheng:{seed}:{name}")


def draw_params(seed: int, days: int) -> dict[str, Any]:
    """The seed's store and customers (the families' own tactics are drawn as they run)."""
    rng = _rng(seed, "store")
    others = sorted(rng.sample(range(days - 1), min(days - 1, rng.randint(2, 4))))
    return {
        "studio": {
            "branches": rng.randint(2, 3),
            "groups_per_branch": (3, rng.randint(4, 6)),
            "welfare_hours": rng.sample([9.5, 10.5, 12.0, 15.5, 18.5, 19.5, 20.5], 3),
            "group_size": (30, rng.randint(60, 160)),
            "rain_nights": [*others, days - 1],
            "rain_drops": rng.randint(2, 3),
            "rain_gap_min": rng.randint(12, 25),
        },
        "parents": {
            "hometown_share": round(rng.uniform(0.05, 0.2), 2),
            "other_province_share": round(rng.uniform(0.01, 0.06), 2),
            "rain_tap_share": round(rng.uniform(0.3, 0.6), 2),
            "welfare_tap_share": round(rng.uniform(0.2, 0.5), 2),
            "tap_delay_s": round(rng.uniform(60, 400)),
            "claim_on_4g": round(rng.uniform(0.05, 0.35), 2),
            "share_poster": round(rng.uniform(0.04, 0.12), 3),
            "groupbuy_share": round(rng.uniform(0.01, 0.03), 3),
        },
        "history_per_event": rng.randint(22, 32),
        "holiday": {"groups": rng.randint(3, 6)},
        "shares": {
            name: round(share * _rng(seed, "share:" + name).uniform(0.6, 1.4), 4)
            for name, (_, share) in {**ATTACKS, **LOOKALIKES}.items()
        }
        | {"phone_changer": 0.003, "travel_home": round(rng.uniform(0.005, 0.015), 4)},
        "families": {},
    }


def build(seed: int, events: int, days: int = 9) -> tuple[Log, dict[str, Any]]:
    """The seed's log (about ``events`` events) and the parameters it drew."""
    params = draw_params(seed, days)
    # the log is exported ten days after the week: late sessions, payments and refunds of the week's stories are
    # in it (they release or void what the week granted), anything later is not
    log, taken = Log(seed, moment(START, 24.0 * (days + TAIL_DAYS))), set[str]()

    def ctx(name: str) -> Ctx:
        rng = _rng(seed, name)
        return Ctx(rng, City(rng, taken), log, studio, days)

    studio = Studio(_rng(seed, "studio"), days, params["studio"])
    base = ctx("parents")
    parents = Parents(base, params["parents"])
    parents.history(events // params["history_per_event"])
    studio.schedule(base, params["studio"])
    for name, (story, _) in {**ATTACKS, **LOOKALIKES}.items():
        knobs: dict[str, Any] = {}
        params["families"][name] = knobs
        story(ctx(name), knobs if name in ATTACKS else params, int(params["shares"][name] * events))
    members = list(parents.members)
    la.phone_changer(ctx("phone_changer"), params, members, int(params["shares"]["phone_changer"] * events))
    skip = la.holiday_packet_evening(ctx("holiday_packet_evening"), params, members)
    skip |= la.travel_home(ctx("travel_home"), params, members, int(params["shares"]["travel_home"] * events))
    parents.member_life()
    parents.newcomers_until(max(0, events - len(log)) // 2 + parents.acts.events)
    parents.taps(skip=skip)
    parents.newcomers_until(parents.acts.events + max(0, events - len(log)))
    return log, params
