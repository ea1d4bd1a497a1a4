"""Referral trees and invitees' regions on the real store (one server and cluster) against brute force.

The oracle rebuilds every upline (first referrer wins, 8 ancestors) and every subtree
from the raw log by the definitions in engine/features/referral_tree.py.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from feature_backends import Backend

from engine import geo
from engine.events import OUTCOME_TYPES, Event
from engine.features.spec import FeatureSpec, ReferralFeature, ReferralMetric

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
H, D = 3600, 86400
AREA = frozenset({"上海", "江苏"})
PHONES = ["13800138000", "18912345678", "13512340000", "17012345678"]  # 北京, 江苏, 重庆, none
IPS = ["58.32.0.1", "114.114.114.114", "36.110.0.1", "8.8.8.8", "10.0.0.7"]  # 上海, 江苏, 北京, 美国, none
SPECS: tuple[FeatureSpec, ...] = (
    ReferralFeature("referrer.subtree_2d", ReferralMetric.SUBTREE, window_seconds=2 * D),
    ReferralFeature("referrer.settled_subtree_2d", ReferralMetric.SUBTREE, 2 * D, older_than_seconds=6 * H),
    ReferralFeature("referrer.subtree_depth", ReferralMetric.SUBTREE_DEPTH),
    ReferralFeature("referrer.subtree_paid_2d", ReferralMetric.SUBTREE_PAID_SHARE, 2 * D, 12 * H, older_than_seconds=H),
    ReferralFeature("referrer.invitee_regions_1d", ReferralMetric.INVITEE_REGIONS, window_seconds=D),
    ReferralFeature("referrer.outside_share_1d", ReferralMetric.OUTSIDE_SHARE, window_seconds=D, area=AREA),
    ReferralFeature("referrer.depth", ReferralMetric.DEPTH),
)


def ms(event: Event) -> int:
    return int(event.timestamp.timestamp() * 1000)


def stream(seed: int, count: int) -> list[Event]:
    """A task platform's tree growing level by level, honest friends, and some paying invitees."""
    rng = random.Random(seed)
    joined = ["root"]
    events: list[Event] = []
    at = START
    for n in range(count):
        at += timedelta(minutes=rng.choice([10, 30, 90]))
        if rng.random() < 0.2 and len(joined) > 1:
            events.append(Event(event_id=f"t{seed}-{n}", type="order_paid", customer=rng.choice(joined[1:]),
                                amount=99, timestamp=at))  # fmt: skip
            continue
        referrer = rng.choice(joined[-6:] if rng.random() < 0.7 else joined)
        invitee = f"c{rng.randrange(60)}"
        fields: dict[str, object] = {"phone": rng.choice(PHONES)} if rng.random() < 0.6 else {}
        events.append(Event.model_validate({
            "event_id": f"t{seed}-{n}", "type": "referral", "customer": invitee, "referrer": referrer,
            "ip": rng.choice(IPS), "timestamp": at, **fields,
        }))  # fmt: skip
        if invitee not in joined:
            joined.append(invitee)
    return events


class TreeOracle:
    def __init__(self) -> None:
        self.log: list[Event] = []

    def upline(self, customer: str, upto: int) -> list[str]:
        """The ids above ``customer`` (nearest first, 8 at most) from its first referral in log[:upto]."""
        for j, e in enumerate(self.log[:upto]):
            if e.type == "referral" and e.customer == customer:
                assert e.referrer is not None
                return [e.referrer, *self.upline(e.referrer, j)][:8]
        return []

    def value(self, spec: ReferralFeature, event: Event) -> float | int | None:
        upto, t, root = len(self.log), ms(event), event.referrer
        sub: dict[str, int] = {}
        depth = 0
        paid: dict[str, int] = {}
        invitees: dict[str, int] = {}
        outside: dict[str, int] = {}
        regions: dict[str, int] = {}
        for j, e in enumerate(self.log[:upto]):
            if e.type == "order_paid":
                above = self.upline(e.customer, j)
                if root in above and e.customer != root:
                    paid.setdefault(e.customer, ms(e))
                continue
            assert e.referrer is not None
            ancestors = [e.referrer, *self.upline(e.referrer, j)][:8]
            if root in ancestors and e.customer != root:
                level = ancestors.index(root) + 1
                sub[e.customer] = max(sub.get(e.customer, 0), ms(e))
                depth = max(depth, level)
            if e.referrer == root:
                invitees[e.customer] = max(invitees.get(e.customer, 0), ms(e))
                region = (geo.phone_region(e.phone) if e.phone else None) or (geo.ip_region(e.ip) if e.ip else None)
                if region is not None:
                    regions[region] = max(regions.get(region, 0), ms(e))
                    if region not in AREA:
                        outside[e.customer] = max(outside.get(e.customer, 0), ms(e))
        low = t - (spec.window_seconds or 0) * 1000
        high = t - (spec.older_than_seconds or 0) * 1000
        in_window = {c: at for c, at in sub.items() if low < at <= high}
        match spec.metric:
            case ReferralMetric.SUBTREE:
                return len(in_window)
            case ReferralMetric.SUBTREE_DEPTH:
                return depth
            case ReferralMetric.SUBTREE_PAID_SHARE:
                within = (spec.within_seconds or 0) * 1000
                if not in_window:
                    return None
                good = [c for c, at in in_window.items() if c in paid and paid[c] <= t and paid[c] - at <= within]
                return len(good) / len(in_window)
            case ReferralMetric.INVITEE_REGIONS:
                return sum(1 for at in regions.values() if at > low)
            case ReferralMetric.OUTSIDE_SHARE:
                window = [c for c, at in invitees.items() if at > low]
                return None if not window else sum(1 for c, at in outside.items() if at > low) / len(window)
        raise AssertionError(spec.metric)


@pytest.mark.parametrize("seed", [5])
async def test_referral_trees_match_brute_force(backend: Backend, tenant: str, seed: int) -> None:
    store, oracle = backend.store(), TreeOracle()
    mismatches: list[str] = []
    seen: dict[str, set[object]] = {s.name: set() for s in SPECS}
    checked = [s for s in SPECS if isinstance(s, ReferralFeature) and s.metric is not ReferralMetric.DEPTH]
    for n, event in enumerate(stream(seed, 150)):
        oracle.log.append(event)
        if event.type in OUTCOME_TYPES:
            assert await store.record_outcome(tenant=tenant, event=event, specs=SPECS)
            continue
        got = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
        for spec in checked:
            want = oracle.value(spec, event)
            seen[spec.name].add(want)
            value = got[spec.name]
            if (want is None) != (value is None) or (want is not None and abs(float(want) - float(value)) > 1e-9):  # type: ignore[arg-type]
                mismatches.append(f"#{n} {event.customer}<-{event.referrer} {spec.name}: {want!r} != {value!r}")
    assert not mismatches, "\n".join(mismatches[:30])
    assert all(len(seen[s.name]) > 2 for s in checked), seen
