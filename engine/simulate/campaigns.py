"""Farms that work a campaign's moments and referral poster (DOMAIN.md, "How farms work").

- scripts on campaign moments (协议抢): bought accounts calling the claim API directly the
  second a red-packet rain opens, through a proxy pool; the SDK's fields are forged or
  missing.
- referral trees: crowd workers doing sign-up tasks, each inviting a few more, several
  levels deep, all over the country (or, on some seeds, a city's task group on local
  SIMs), nobody buying but, on some seeds, a few workers who pay for one trial.

Every size, pace and share is a per-seed knob (:mod:`engine.simulate.knobs`).
"""

from __future__ import annotations

import random

from engine.simulate.checkout import newcomer_claim
from engine.simulate.context import Sim
from engine.simulate.places import local_phone
from engine.simulate.timeline import DAY, HOUR, MINUTE
from engine.simulate.units import CAMPAIGN_SCRIPT, REFERRAL_TREE, Unit
from engine.simulate.world import AUTOMATION, CLAIM_MS, PROXY, SCRIPT_UAS, USER_AGENT, WECHAT_UA, Person


def campaign_moments(sim: Sim) -> list[float]:
    """The evenings a campaign opens at 20:00 sharp: what both scripts and honest rushes aim at."""
    if not sim.moments:
        first = sim.rng.randrange(sim.clock.days)
        days = sorted({first, *(sim.rng.randrange(sim.clock.days) for _ in range(2))})
        sim.moments.extend(sim.clock.start + day * DAY + 20 * HOUR for day in days)
    return sim.moments


def campaign_script(sim: Sim) -> Unit:
    """Bought accounts hitting the claim API the moment a red-packet rain opens."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(CAMPAIGN_SCRIPT)
    moment = rng.choice(campaign_moments(sim))
    pool = [ids.idc_subnet() for _ in range(knobs.integer("campaign_script.proxy_subnets", 1, 8))]
    forged = knobs.uniform("campaign_script.forged_sdk_share", 0.0, 0.8)  # fields made to look human
    latency = knobs.uniform("campaign_script.latency_ms", 30, 600)
    groups = rng.sample(list(sim.groups), k=min(len(sim.groups), rng.randint(2, 6)))
    fixed_device = ids.device_id() if rng.random() < 0.3 else None
    for _ in range(knobs.around(rng, "campaign_script.accounts", 10, 60)):
        account = Person(
            customer=ids.customer_id(),
            device=fixed_device or ids.device_id(),
            ip=f"{rng.choice(pool)}.{rng.randrange(2, 250)}",
            phone=ids.phone(virtual=rng.random() < 0.4),
            email=None,
            address="",
            created=sim.clock.start - rng.uniform(1, 60) * DAY,
        )
        for group in groups:
            at = moment + rng.uniform(0.3, 1.7) * latency / 1000
            if rng.random() < forged:
                attributes: dict[str, object] = {CLAIM_MS: int(rng.uniform(700, 1800)), USER_AGENT: WECHAT_UA}
            else:
                attributes = {CLAIM_MS: int(rng.uniform(0.3, 1.7) * latency), USER_AGENT: rng.choice(SCRIPT_UAS)}
                attributes |= {AUTOMATION: True} if rng.random() < 0.3 else {PROXY: rng.random() < 0.5}
            unit.add(
                at,
                "red_packet_claim",
                account,
                group=group,
                campaign="red_packet_rain",
                amount=8.88,
                attributes=attributes,
            )
    return unit


def referral_tree(sim: Sim) -> Unit:
    """A sign-up task on a crowd-work platform: each worker invites a few more, level after level."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(REFERRAL_TREE)
    fanout = knobs.uniform("referral_tree.fanout", 1.5, 4)
    depth = knobs.integer("referral_tree.depth", 3, 7)
    claim_share = knobs.uniform("referral_tree.claim_share", 0.2, 0.9)
    level_hours = knobs.uniform("referral_tree.hours_per_level", 1, 24)
    # variants (own RNGs: the rest of the log stays as it was): a city's task group on local
    # SIMs; workers who buy the trial once so the tree looks like customers
    local_share = knobs.uniform("referral_tree.local_share", 0.0, 0.7, own_stream=True)
    buyer_share = knobs.uniform("referral_tree.buyer_share", 0.0, 0.15, own_stream=True)
    start = sim.clock.moment()
    root = Person(ids.customer_id(), ids.device_id(), ids.remote_ip(), ids.phone(), None, "", start - 20 * DAY)
    variant = random.Random(f"referral_tree-{root.customer}")
    frontier = [(root, start)]
    for _ in range(depth):
        following = []
        for parent, at in frontier:
            for _ in range(_count(sim, fanout)):
                t = at + rng.uniform(0.2, 1.8) * level_hours * HOUR
                worker = Person(
                    customer=ids.customer_id(),
                    device=ids.device_id(),
                    ip=ids.remote_ip() if rng.random() < 0.5 else ids.mobile_ip(anywhere=True),
                    phone=ids.phone(virtual=rng.random() < 0.15),  # their own SIMs, from anywhere
                    email=ids.honest_email(),
                    address="",
                    created=t,
                )
                if variant.random() < local_share:
                    worker.phone = local_phone(variant)
                unit.add(t, "referral", worker, referrer=parent.customer, campaign="trial_99")
                if rng.random() < claim_share:
                    newcomer_claim(sim, unit, worker, t + rng.uniform(0.5, 30) * MINUTE, t)
                if variant.random() < buyer_share:  # one trial, paid from the worker's own wallet, to look real
                    worker.payment = f"pay-{variant.getrandbits(176):044x}"
                    at = t + variant.uniform(1, 48) * HOUR
                    unit.add(at, "order", worker, amount=99.0, campaign="trial_99")
                    paid_at = at + variant.uniform(1, 10) * MINUTE
                    unit.add(paid_at, "order_paid", worker, amount=99.0, campaign="trial_99")
                following.append((worker, t))
        frontier = following[:200]
    return unit


def _count(sim: Sim, mean: float) -> int:
    low = int(mean)
    return low + (sim.rng.random() < mean - low)
