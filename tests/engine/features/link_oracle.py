"""Brute-force linked-account features, recomputed from the raw log by the definition.

The definition (engine/features/links.py, docs/features.md "Linked accounts"): at each
event, a strong identity on it that at most ``fanout`` customers used in the last W
links its customer to each other user, at that user's last use of it; a link's time is
the latest such moment, and it formed at the event that found it while it was not live.
Weak identities link only on the event that carries them. Shares and identities are over
the customer and its newest ``FACTS_CAP`` members; ``identities`` counts at most
``IDENTITY_CAP``. Nothing here reuses the store's data structures: every value is a scan
of the events recorded so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from engine.events import Event, ip_subnet
from engine.features.keys import normalize
from engine.features.links import FACTS_CAP, IDENTITY_CAP
from engine.features.spec import UNIT_SECONDS, Entity, LinkFeature, LinkMetric

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PREFIX = {Entity.DEVICE: "d", Entity.IP: "i", Entity.PHONE: "p", Entity.ADDRESS: "a"}


def ms(event: Event) -> int:
    return (event.timestamp - _EPOCH) // timedelta(milliseconds=1)


def identity(event: Event, entity: Entity) -> str | None:
    value = {
        Entity.DEVICE: event.device,
        Entity.PHONE: event.phone,
        Entity.ADDRESS: None if event.address is None else normalize(Entity.ADDRESS, event.address),
        Entity.IP: event.ip,
        Entity.SUBNET: ip_subnet(event.ip),
    }.get(entity)
    return value


@dataclass
class LinkOracle:
    """The events recorded so far, in order."""

    log: list[Event] = field(default_factory=list)

    def users(self, entity: Entity, value: str, t: int, window: int, upto: int) -> dict[str, int]:
        """Customer -> last use of the identity in (t - window, t], over log[:upto]."""
        found: dict[str, int] = {}
        for e in self.log[:upto]:
            if identity(e, entity) == value and t - window < ms(e) <= t:
                found[e.customer] = max(found.get(e.customer, 0), ms(e))
        return found

    def links(self, spec: LinkFeature, customer: str, upto: int) -> dict[str, tuple[int, int]]:
        """Peer -> (link time, formed) for ``customer`` after log[:upto] was recorded."""
        window = self.window_ms
        pairs: dict[str, tuple[int, int]] = {}
        for j, e in enumerate(self.log[:upto]):
            t = ms(e)
            for entity in spec.via:
                value = identity(e, entity)
                if value is None:
                    continue
                users = self._cache.get((j, entity))
                if users is None:  # log[:j + 1] never changes: its users are computed once
                    users = self._cache[(j, entity)] = self.users(entity, value, t, window, j + 1)
                if len(users) > spec.fanout:
                    continue  # a hub links nobody
                if e.customer == customer:
                    found = {p: at for p, at in users.items() if p != customer}
                elif customer in users:
                    found = {e.customer: users[customer]}
                else:
                    continue
                for peer, at in found.items():
                    old = pairs.get(peer)
                    if old is None or old[0] <= t - window:
                        pairs[peer] = (at, t)
                    else:
                        pairs[peer] = (max(old[0], at), old[1])
        return pairs

    window_ms: int = 0
    _cache: dict[tuple[int, Entity], dict[str, int]] = field(default_factory=dict)

    def value(self, spec: LinkFeature, event: Event) -> float | int | None:
        """The feature's value for ``event``, which is the last entry of the log."""
        upto = len(self.log)
        t, low = ms(event), ms(event) - spec.window_seconds * 1000
        hubs = 0
        strong = self.links(spec, event.customer, upto)
        for entity in spec.via:
            value = identity(event, entity)
            if value is not None and len(self.users(entity, value, t, self.window_ms, upto)) > spec.fanout:
                hubs += 1
        weak: dict[str, int] = {}
        for entity, seconds in spec.weak:
            value = identity(event, entity)
            if value is None:
                continue
            users = self.users(entity, value, t, seconds * 1000, upto)
            if len(users) > spec.fanout:
                hubs += 1
                continue
            for other, at in users.items():
                if other != event.customer:
                    weak[other] = max(weak.get(other, 0), at)
        group = {p for p, (at, _) in strong.items() if at > low} | {p for p, at in weak.items() if at > low}
        latest = {p: max(strong.get(p, (0, 0))[0], weak.get(p, 0)) for p in group}
        newest = sorted(group, key=lambda p: (-latest[p], p))[:FACTS_CAP]  # shares and identities read these
        everyone = [event.customer, *newest]
        within = (spec.within_seconds or 0) * 1000
        match spec.metric:
            case LinkMetric.ACCOUNTS:
                return len(group)
            case LinkMetric.HUBS:
                return hubs
            case LinkMetric.NEW_SHARE:
                return sum(t - self.first(c) < within for c in everyone) / len(everyone)
            case LinkMetric.PAID_SHARE:
                return sum(self.paid(c) for c in everyone) / len(everyone)
            case LinkMetric.RETURNING_SHARE:
                return sum(self.last(c) - self.first(c) >= within for c in everyone) / len(everyone)
            case LinkMetric.IDENTITIES:
                return min(IDENTITY_CAP, len(self.identities(spec, everyone, low)))
            case LinkMetric.LINK_AGE:
                formed = [strong[p][1] for p in group if p in strong and strong[p][0] > low]
                return None if not formed else (t - min(formed)) / (UNIT_SECONDS[spec.unit] * 1000)
            case LinkMetric.REWARDS:
                return 0  # no offers are granted in the oracle's stream
        raise AssertionError(spec.metric)

    def first(self, customer: str) -> int:
        return min(ms(e) for e in self.log if e.customer == customer)

    def last(self, customer: str) -> int:
        return max(ms(e) for e in self.log if e.customer == customer)

    def paid(self, customer: str) -> bool:
        return any(e.customer == customer and e.type == "order_paid" for e in self.log)

    def identities(self, spec: LinkFeature, customers: list[str], low: int) -> set[tuple[Entity, str]]:
        """Distinct strong identities the customers used after ``low`` (the newest 32 each)."""
        used: set[tuple[Entity, str]] = set()
        for customer in customers:
            last: dict[tuple[Entity, str], int] = {}
            for e in self.log:
                if e.customer != customer:
                    continue
                for entity in _PREFIX:
                    value = identity(e, entity)
                    if value is not None:
                        last[(entity, value)] = ms(e)
            used |= {k for k, at in last.items() if at > low and k[0] in spec.via}
        return used
