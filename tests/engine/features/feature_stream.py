"""A seeded random event stream shaped like a small merchant's traffic, and the specs it feeds.

Small pools (customers, devices, ips in three /24s, phones, groups) make entities
repeat, so windows fill up, devices are shared, referrals form chains and rings,
and group-buys get self-dealing members. Event times sit on a 5-minute grid and
windows are multiples of it, so many events land exactly on a window's edge.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from engine.events import Event
from engine.features.spec import (
    Aggregate,
    Entity,
    FeatureSpec,
    GroupFeature,
    GroupMetric,
    ListFeature,
    ListKind,
    ReferralFeature,
    ReferralMetric,
    TimeUnit,
    WindowedFeature,
)

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
GRID = timedelta(minutes=5)
SCORED = ["signup", "referral", "coupon_claim", "group_buy_join", "red_packet_claim", "order"]

_ALL = frozenset[str]()


def _w(
    name: str, agg: Aggregate, by: Entity, window: int | None, on: frozenset[str] = _ALL, **kw: object
) -> WindowedFeature:
    return WindowedFeature(name=name, aggregate=agg, by=by, window_seconds=window, on=on, **kw)  # type: ignore[arg-type]


SPECS: tuple[FeatureSpec, ...] = (
    _w("customer.events_1h", Aggregate.COUNT, Entity.CUSTOMER, 3600),
    _w("customer.orders_1d", Aggregate.COUNT, Entity.CUSTOMER, 86400, frozenset({"order", "order_paid"})),
    _w(
        "customer.spend_1d_exact",
        Aggregate.SUM,
        Entity.CUSTOMER,
        86400,
        frozenset({"order_paid"}),
        field="amount",
        exact=True,
    ),
    _w("customer.spend_1d", Aggregate.SUM, Entity.CUSTOMER, 86400, frozenset({"order_paid"}), field="amount"),
    _w("customer.age_min", Aggregate.FIRST_SEEN, Entity.CUSTOMER, None, unit=TimeUnit.MINUTES),
    _w(
        "customer.since_paid_h",
        Aggregate.LAST_SEEN,
        Entity.CUSTOMER,
        None,
        frozenset({"order_paid"}),
        unit=TimeUnit.HOURS,
    ),
    _w("device.accounts_1h", Aggregate.DISTINCT, Entity.DEVICE, 3600, field="customer"),
    _w("device.accounts_6h", Aggregate.DISTINCT, Entity.DEVICE, 6 * 3600, field="customer"),
    _w("device.signups_30m", Aggregate.COUNT, Entity.DEVICE, 1800, frozenset({"signup"}), exact=True),
    _w("device.signups_30m_buckets", Aggregate.COUNT, Entity.DEVICE, 1800, frozenset({"signup"})),
    _w("ip.claims_1h", Aggregate.COUNT, Entity.IP, 3600, frozenset({"coupon_claim", "red_packet_claim"})),
    _w("ip.devices_1h", Aggregate.DISTINCT, Entity.IP, 3600, field="device"),
    _w("subnet.customers_2h", Aggregate.DISTINCT, Entity.SUBNET, 7200, field="customer"),
    _w("subnet.customers_2h_approx", Aggregate.DISTINCT, Entity.SUBNET, 7200, field="customer", approx=True),
    _w("phone_segment.signups_1h", Aggregate.COUNT, Entity.PHONE_SEGMENT, 3600, frozenset({"signup"})),
    _w("phone.accounts_1d", Aggregate.DISTINCT, Entity.PHONE, 86400, field="customer"),
    _w("email_domain.signups_1h", Aggregate.COUNT, Entity.EMAIL_DOMAIN, 3600, frozenset({"signup"})),
    _w("email.accounts_1d", Aggregate.DISTINCT, Entity.EMAIL, 86400, field="customer"),
    _w("payment.accounts_1d", Aggregate.DISTINCT, Entity.PAYMENT, 86400, field="customer"),
    _w("address.accounts_1d", Aggregate.DISTINCT, Entity.ADDRESS, 86400, field="customer"),
    _w("referrer.referrals_1h", Aggregate.COUNT, Entity.REFERRER, 3600, frozenset({"referral"})),
    _w(
        "campaign.claim_amount_1h",
        Aggregate.SUM,
        Entity.CAMPAIGN,
        3600,
        frozenset({"red_packet_claim"}),
        field="amount",
    ),
    ReferralFeature("referrer.invitees_2h", ReferralMetric.INVITEES, window_seconds=7200),
    ReferralFeature("referrer.invitee_devices_2h", ReferralMetric.INVITEE_DEVICES, window_seconds=7200),
    ReferralFeature("referrer.invitee_ips_2h", ReferralMetric.INVITEE_IPS, window_seconds=7200),
    ReferralFeature("referrer.invitee_subnets_2h", ReferralMetric.INVITEE_SUBNETS, window_seconds=7200),
    ReferralFeature("referrer.on_own_device_1d", ReferralMetric.INVITEES_ON_REFERRER_DEVICE, window_seconds=86400),
    ReferralFeature("referrer.on_own_ip_1d", ReferralMetric.INVITEES_ON_REFERRER_IP, window_seconds=86400),
    ReferralFeature("referrer.paid_share_1d", ReferralMetric.PAID_SHARE, window_seconds=86400, within_seconds=3 * 3600),
    ReferralFeature("referrer.paid_share_ever", ReferralMetric.PAID_SHARE),
    # invitees referred at least `older_than` ago; the 1d pair shares one script op
    ReferralFeature(
        "referrer.invitees_2h_older_30m", ReferralMetric.INVITEES, window_seconds=7200, older_than_seconds=1800
    ),
    ReferralFeature(
        "referrer.invitees_1d_older_2h", ReferralMetric.INVITEES, window_seconds=86400, older_than_seconds=7200
    ),
    ReferralFeature(
        "referrer.paid_share_1d_older_2h",
        ReferralMetric.PAID_SHARE,
        window_seconds=86400,
        within_seconds=3 * 3600,
        older_than_seconds=7200,
    ),
    ReferralFeature("referrer.depth", ReferralMetric.DEPTH),
    ReferralFeature("referrer.ring3", ReferralMetric.RING, hops=3),
    ReferralFeature("referrer.ring8", ReferralMetric.RING, hops=8),
    GroupFeature("group.members", GroupMetric.MEMBERS),
    GroupFeature("group.members_1h", GroupMetric.MEMBERS, window_seconds=3600),
    GroupFeature("group.shared_device", GroupMetric.SHARED_DEVICE),
    GroupFeature("group.shared_ip_1h", GroupMetric.SHARED_IP, window_seconds=3600),
    GroupFeature("group.shared_address", GroupMetric.SHARED_ADDRESS),
    ListFeature("device.blocked", Entity.DEVICE, ListKind.BLOCK),
    ListFeature("phone.watched", Entity.PHONE, ListKind.WATCH),
)

APPROX = {"subnet.customers_2h_approx"}

PHONES = [f"1{seg}{n:08d}" for seg in ("38", "70", "65") for n in (12345678, 87654321, 55501234)]
ADDRESSES = [
    "1 Nanjing Rd, Shanghai",
    "1  nanjing rd, SHANGHAI",
    "88 Huaihai Rd, Shanghai",
    "西湖区文三路100号3栋501室",  # one flat typed three ways (engine.identity.addresses)
    "杭州西湖区文三路１００号３幢５０１",
    "浙江省杭州市西湖区文三路100号3-501",
    None,
]
SHARED_MAILBOX = ["Shared.Box+1@gmail.com", "sharedbox@googlemail.com"]  # one Gmail inbox
PAYMENTS = ["wx-wallet-1", "wx-wallet-2", "fp_card_3", None, None]


def event_stream(seed: int, count: int) -> list[Event]:
    """``count`` events in time order (several may share a timestamp)."""
    rng = random.Random(seed)
    customers = [f"c{i}" for i in range(18)]
    devices = [f"dev-{i}" for i in range(7)]
    ips = [f"10.{s}.7.{h}" for s in (1, 2, 3) for h in (5, 6, 7)]
    now = START
    events: list[Event] = []
    for n in range(count):
        now += GRID * rng.choice([0, 0, 1, 1, 1, 2, 3, 6, 12])
        kind = rng.choices([*SCORED, "order_paid"], weights=[3, 6, 2, 3, 2, 2, 3])[0]
        customer = rng.choice(customers)
        invitees = [e.customer for e in events[-30:] if e.type == "referral"]
        if kind == "order_paid" and invitees and rng.random() < 0.7:
            customer = rng.choice(invitees)  # invitees who buy soon after being referred
        events.append(
            Event(
                event_id=f"s{seed}-e{n}",
                type=kind,
                customer=customer,
                timestamp=now,
                device=rng.choice([*devices, None]),
                ip=rng.choice([*ips, None]),
                phone=rng.choice([*PHONES, None]),
                email=rng.choice(
                    [
                        f"{customer}@mail.example",
                        f"{customer}@qq.example",
                        "Shared.Box+1@gmail.com",
                        "sharedbox@googlemail.com",
                        None,
                    ]
                ),
                referrer=rng.choice(customers) if kind == "referral" else rng.choice([None, None, *customers[:3]]),
                group=rng.choice(["g1", "g2", "g3"]) if kind == "group_buy_join" else None,
                campaign=rng.choice(["spring", "vip"]) if kind == "red_packet_claim" else None,
                address=rng.choice(ADDRESSES),
                payment=rng.choice(PAYMENTS),
                amount=round(rng.uniform(0.5, 300), 2) if kind in ("order", "order_paid", "red_packet_claim") else None,
            )
        )
    return events
