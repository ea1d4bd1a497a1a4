"""Brute-force recomputation of every feature from the raw log of recorded events.

Deliberately naive: each value is recomputed by scanning the whole log with the
definitions written in docs/features.md, so the Redis implementation is checked
against the meaning, not against a copy of its own data structures.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from engine.events import Event, email_domain, ip_subnet, phone_block, phone_segment
from engine.features.cadence import cadence
from engine.features.spec import (
    UNIT_SECONDS,
    Aggregate,
    Entity,
    FeatureSpec,
    GroupFeature,
    GroupMetric,
    ListFeature,
    ReferralFeature,
    ReferralMetric,
    WindowedFeature,
)
from engine.geo import foreign_number, ip_region
from engine.identity.addresses import canonical_address
from engine.identity.device_models import device_model

CHAIN_CAP = 8
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms(event: Event) -> int:
    return (event.timestamp - _EPOCH) // timedelta(milliseconds=1)


def value_of(event: Event, entity: Entity) -> str | None:
    return {
        Entity.CUSTOMER: event.customer,
        Entity.DEVICE: event.device,
        Entity.IP: event.ip,
        Entity.SUBNET: ip_subnet(event.ip),
        Entity.PHONE: event.phone,
        Entity.PHONE_SEGMENT: phone_segment(event.phone),
        Entity.PHONE_BLOCK: phone_block(event.phone),
        Entity.EMAIL_DOMAIN: email_domain(event.email),
        Entity.REFERRER: event.referrer,
        Entity.GROUP: event.group,
        Entity.CAMPAIGN: event.campaign,
        Entity.COUPON: event.coupon,
        Entity.ADDRESS: None if event.address is None else canonical_address(event.address),
        Entity.EMAIL: event.email,
        Entity.PAYMENT: event.payment,
        Entity.IP_REGION: None if event.ip is None else ip_region(event.ip),
        Entity.FOREIGN_NUMBER: foreign_number(event.phone, event.ip),
        Entity.DEVICE_MODEL: device_model(_user_agent(event)),
        Entity.LINE_MODEL: _line_model(event),
        Entity.SUBNET_HANDSET: _subnet_handset(event),
        Entity.BRANCH: _branch(event),
        Entity.PLATFORM: _platform(event),
    }[entity]


def _platform(event: Event) -> str | None:
    """``android`` when the user agent names an Android model and build, ``ios`` for an iPhone or iPad."""
    agent = _user_agent(event)
    if agent is None:
        return None
    if device_model(agent) is not None:
        return "android"
    return "ios" if "iPhone" in agent or "iPad" in agent else None


def _line_model(event: Event) -> str | None:
    """The event's ip and its Android model and build, one space between; none without either."""
    model = device_model(_user_agent(event))
    return None if event.ip is None or model is None else event.ip + " " + model


def _subnet_handset(event: Event) -> str | None:
    """The ip's /24 (IPv6 /48) and the handset: Android model and build, or iPhone / iPad and iOS; WeChat's version.

    Written from docs/features.md with ``ipaddress`` and plain string search, not the engine's regular expressions.
    """
    agent = _user_agent(event)
    if event.ip is None or agent is None:
        return None
    model = device_model(agent)
    if model is None:
        for kind in ("iPhone", "iPad", "iPod"):
            head = "(" + kind + ";"
            if head in agent and " OS " in agent and " like Mac OS X" in agent:
                model = kind.lower() + " os " + agent.split(" like Mac OS X")[0].rsplit(" OS ", 1)[1]
                break
    if model is None:
        return None
    if "MicroMessenger/" in agent:
        version = agent.split("MicroMessenger/", 1)[1].split(" ")[0].split("(")[0]
        model += " wechat " + version
    prefix = 48 if ":" in event.ip else 24
    return str(ipaddress.ip_network(f"{event.ip}/{prefix}", strict=False)) + " " + model


def _user_agent(event: Event) -> str | None:
    value = event.attributes.get("user_agent")
    return value if isinstance(value, str) else None


def _branch(event: Event) -> str | None:
    """docs/api.md, "Branches": a non-empty string ``attributes.branch``, spaces around it dropped."""
    value = event.attributes.get("branch")
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


@dataclass
class Oracle:
    """The log of events recorded so far (scored ones and outcomes, in order)."""

    log: list[Event] = field(default_factory=list)
    listed: dict[tuple[Entity, str], set[str]] = field(default_factory=dict)

    # -- windowed ------------------------------------------------------------------

    def windowed(self, spec: WindowedFeature, event: Event, prior: list[Event]) -> float | int | None:
        key = value_of(event, spec.by)
        if key is None:
            return None
        t = ms(event)
        feeding = [e for e in prior if (not spec.on or e.type in spec.on) and value_of(e, spec.by) == key]
        if spec.aggregate in (Aggregate.FIRST_SEEN, Aggregate.LAST_SEEN):
            if not feeding:
                return None
            seen = (
                min(ms(e) for e in feeding) if spec.aggregate is Aggregate.FIRST_SEEN else max(ms(e) for e in feeding)
            )
            return max(0, t - seen) / (UNIT_SECONDS[spec.unit] * 1000)
        if not spec.on or event.type in spec.on:
            feeding = [*feeding, event]
        low = t - (spec.window_seconds or 0) * 1000
        inside = [e for e in feeding if low < ms(e) <= t]
        if spec.aggregate is Aggregate.COUNT:
            return len(inside)
        if spec.aggregate is Aggregate.SUM:
            return sum(e.amount or 0.0 for e in inside)
        entity = Entity(spec.field or "customer")
        if spec.aggregate is Aggregate.CADENCE:
            return self.cadence(entity, feeding, t, low)
        return len({value_of(e, entity) for e in inside if value_of(e, entity) is not None})

    def cadence(self, entity: Entity, feeding: list[Event], t: int, low: int) -> int:
        """The run of the newest 32 values' latest sightings (the event's own among them) before t."""
        latest: dict[str, int] = {}
        for e in feeding:
            value = value_of(e, entity)
            if value is not None:
                latest[value] = max(latest.get(value, ms(e)), ms(e))
        kept = sorted(latest.values(), reverse=True)[:32]
        return cadence(kept, t, low)

    def distinct_between(self, spec: WindowedFeature, event: Event, window_ms: int) -> int:
        """Exact distinct count over an arbitrary window (bounds for the HyperLogLog one)."""
        key, t, entity = value_of(event, spec.by), ms(event), Entity(spec.field or "customer")
        events = [*self.log, event]
        return len(
            {
                value_of(e, entity)
                for e in events
                if value_of(e, spec.by) == key and t - window_ms < ms(e) <= t and value_of(e, entity) is not None
            }
        )

    # -- referral --------------------------------------------------------------------

    def _referrals(self, events: list[Event]) -> list[Event]:
        return [e for e in events if e.type == "referral" and e.referrer is not None]

    def upline(self, customer: str, events: list[Event]) -> Event | None:
        """The customer's first referral event (the first referrer wins)."""
        return next((e for e in self._referrals(events) if e.customer == customer), None)

    def chain(self, customer: str, events: list[Event]) -> list[str]:
        """Ancestors nearest first, as they were when the customer was first referred."""
        first = self.upline(customer, events)
        if first is None or first.referrer is None:
            return []
        before = events[: events.index(first)]
        return [first.referrer, *self.chain(first.referrer, before)][:CHAIN_CAP]

    def depth(self, customer: str, events: list[Event]) -> int:
        first = self.upline(customer, events)
        if first is None or first.referrer is None:
            return 0
        return 1 + self.depth(first.referrer, events[: events.index(first)])

    def referral(self, spec: ReferralFeature, event: Event, prior: list[Event]) -> float | int | bool | None:
        referrer = event.referrer
        if referrer is None:
            return None
        if spec.metric is ReferralMetric.DEPTH:
            return 1 + self.depth(referrer, prior)
        if spec.metric is ReferralMetric.RING:
            ancestors = self.chain(referrer, prior)[: spec.hops - 1]
            return event.customer == referrer or event.customer in ancestors
        events = [*prior, event] if event.type == "referral" else prior
        t = ms(event)
        low = -1 if spec.window_seconds is None else t - spec.window_seconds * 1000
        edges = [e for e in self._referrals(events) if e.referrer == referrer and low < ms(e)]
        if spec.older_than_seconds is not None:
            edges = self._older(edges, t - spec.older_than_seconds * 1000)
        match spec.metric:
            case ReferralMetric.INVITEES:
                return len({e.customer for e in edges})
            case ReferralMetric.INVITEE_DEVICES:
                return len({e.device for e in edges if e.device})
            case ReferralMetric.INVITEE_IPS:
                return len({e.ip for e in edges if e.ip})
            case ReferralMetric.INVITEE_SUBNETS:
                return len({ip_subnet(e.ip) for e in edges if e.ip})
            case ReferralMetric.INVITEES_ON_REFERRER_DEVICE | ReferralMetric.INVITEES_ON_REFERRER_IP:
                attr = "device" if spec.metric is ReferralMetric.INVITEES_ON_REFERRER_DEVICE else "ip"
                return len({e.customer for e in edges if self._own(referrer, e, attr, events)})
            case _:
                return self._paid_share(spec, referrer, edges, events, t)

    @staticmethod
    def _older(edges: list[Event], until: int) -> list[Event]:
        """The edges of invitees whose latest referral (by this referrer) is at or before ``until``."""
        latest: dict[str, int] = {}
        for edge in edges:
            latest[edge.customer] = max(latest.get(edge.customer, 0), ms(edge))
        return [e for e in edges if latest[e.customer] <= until and ms(e) == latest[e.customer]]

    def _own(self, referrer: str, edge: Event, attr: str, events: list[Event]) -> bool:
        """Whether the edge's device/ip was used by the referrer at or before the edge."""
        value = getattr(edge, attr)
        upto = events[: events.index(edge) + 1]
        return value is not None and any(e.customer == referrer and getattr(e, attr) == value for e in upto)

    def _paid_share(
        self, spec: ReferralFeature, referrer: str, edges: list[Event], events: list[Event], t: int
    ) -> float | None:
        latest: dict[str, int] = {}
        for edge in edges:
            latest[edge.customer] = max(latest.get(edge.customer, 0), ms(edge))
        if not latest:
            return None
        within = (spec.within_seconds or 10**12) * 1000
        paid = 0
        for invitee, referred_at in latest.items():
            first_paid = self._first_paid(invitee, referrer, events)
            if first_paid is not None and first_paid <= t and first_paid - referred_at <= within:
                paid += 1
        return paid / len(latest)

    def _first_paid(self, invitee: str, referrer: str, events: list[Event]) -> int | None:
        """The invitee's first order_paid recorded after it had an upline whose referrer is ours."""
        for index, e in enumerate(events):
            if e.type == "order_paid" and e.customer == invitee:
                first = self.upline(invitee, events[:index])
                if first is not None:
                    return ms(e) if first.referrer == referrer else None
        return None

    # -- group-buy ---------------------------------------------------------------------

    def group(self, spec: GroupFeature, event: Event, prior: list[Event]) -> int | None:
        if event.group is None:
            return None
        events = [*prior, event] if event.type == "group_buy_join" else prior
        t = ms(event)
        low = -1 if spec.window_seconds is None else t - spec.window_seconds * 1000
        joins = [e for e in events if e.type == "group_buy_join" and e.group == event.group]
        latest: dict[str, Event] = {}
        for join in joins:
            latest[join.customer] = join
        if spec.metric is GroupMetric.MEMBERS:
            return len({c for c, e in latest.items() if ms(e) > low})
        attr = {GroupMetric.SHARED_DEVICE: "device", GroupMetric.SHARED_IP: "ip"}.get(spec.metric, "address")
        mine = getattr(event, attr)
        if mine is None:
            return None
        if attr == "address":
            mine = canonical_address(mine)
        sharing = {
            e.customer
            for e in joins
            if e.customer != event.customer
            and getattr(e, attr) is not None
            and (canonical_address(getattr(e, attr)) if attr == "address" else getattr(e, attr)) == mine
        }
        # a member counts while its latest join from this value is inside the window
        return len({c for c in sharing if max(ms(e) for e in joins if e.customer == c and _same(e, attr, mine)) > low})

    # -- everything --------------------------------------------------------------------

    def values(self, specs: tuple[FeatureSpec, ...], event: Event) -> dict[str, object]:
        prior = list(self.log)
        out: dict[str, object] = {}
        for spec in specs:
            if isinstance(spec, WindowedFeature):
                out[spec.name] = self.windowed(spec, event, prior)
            elif isinstance(spec, ReferralFeature):
                out[spec.name] = self.referral(spec, event, prior)
            elif isinstance(spec, GroupFeature):
                out[spec.name] = self.group(spec, event, prior)
            elif isinstance(spec, ListFeature):
                value = value_of(event, spec.entity)
                kinds = self.listed.get((spec.entity, value or ""), set())
                out[spec.name] = None if value is None else spec.kind.value in kinds
        return out


def _same(event: Event, attr: str, mine: str) -> bool:
    value = getattr(event, attr)
    if value is None:
        return False
    return (canonical_address(value) if attr == "address" else value) == mine
