"""Generated rule packs and events for the engine benchmark, as YAML text our compiler reads.

The rules look like the shipped pack's: velocity thresholds on declared features,
virtual phone segments and disposable mailboxes from named lists, device regexes,
ratios (a division that may be by zero), missing-history checks, bot timings.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.events import SCORED_TYPES, Event

FEATURES = {
    "customer.age_days": ("{first_seen: true, by: customer, unit: days}", (0, 900)),
    "customer.orders_365d": ("{count: [order_paid], by: customer, window: 365d}", (0, 12)),
    "customer.spend_365d": ("{sum: amount, on: [order_paid], by: customer, window: 365d}", (0, 12000)),
    "customer.coupon_claims_7d": ("{count: [coupon_claim], by: customer, window: 7d}", (0, 9)),
    "customer.red_packets_24h": ("{count: [red_packet_claim], by: customer, window: 24h}", (0, 30)),
    "customer.devices_24h": ("{distinct: device, by: customer, window: 24h}", (1, 6)),
    "device.accounts_24h": ("{distinct: customer, by: device, window: 24h}", (1, 9)),
    "device.accounts_7d": ("{distinct: customer, by: device, window: 7d}", (1, 15)),
    "device.claims_1h": ("{count: [coupon_claim, red_packet_claim, group_buy_join], by: device, window: 1h}", (0, 25)),
    "ip.accounts_1h": ("{distinct: customer, by: ip, window: 1h}", (1, 30)),
    "ip.signups_1h": ("{count: [signup, referral], by: ip, window: 1h}", (0, 40)),
    "subnet.signups_1h": ("{count: [signup, referral], by: subnet, window: 1h}", (0, 80)),
    "phone.accounts_30d": ("{distinct: customer, by: phone, window: 30d}", (1, 5)),
    "referrer.invitees_7d": ("{referral: invitees, window: 7d}", (0, 30)),
    "referrer.invitee_devices_7d": ("{referral: invitee_devices, window: 7d}", (0, 30)),
}
NUMERIC = list(FEATURES)
TYPES = sorted(SCORED_TYPES)
SEGMENTS = ["162", "165", "167", "170", "171", "138", "139", "186"]
DOMAINS = ["mailinator.com", "10minutemail.com", "qq.com", "163.com", "gmail.com"]

_HEAD = """
pack: {name: bench, timezone: Asia/Shanghai}
attributes: {claim_ms: number, emulator: bool}
lists:
  virtual_segments: ["162", "165", "167", "170", "171"]
  disposable_domains: [mailinator.com, 10minutemail.com, guerrillamail.com]
tiers:
  - {id: important, label: 重要型, when: "customer.spend_365d >= 5000"}
  - {id: regular, label: 常规型, when: "customer.orders_365d >= 2"}
  - {id: occasional, label: 偶然型, default: true}
decision: {review_at: 40, deny_at: 70}
offers:
  - id: trial_99
    tiers: [occasional, regular]
    on: [signup]
    when: "coalesce(customer.orders_365d, 0) == 0"
    effect: {type: trial, value: 99, description: 99元体验}
  - id: topup_gift
    tiers: [important]
    on: [order]
    when: "event.amount >= 5000"
    effect: {type: gift, value: 0, description: 充值礼}
"""


def _clause(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        name = rng.choice(NUMERIC)
        low, high = FEATURES[name][1]
        return f"{name} {rng.choice(['>=', '>'])} {int(low + (high - low) * rng.uniform(0.3, 0.8))}"
    if kind < 0.55:
        return rng.choice(["phone.segment in lists.virtual_segments", "email.domain in lists.disposable_domains"])
    if kind < 0.63:
        return f"referrer.invitee_devices_7d / referrer.invitees_7d < {rng.choice([0.3, 0.5, 0.7])}"
    if kind < 0.70:
        return rng.choice(["not exists(customer.age_days)", "coalesce(customer.orders_365d, 0) == 0"])
    if kind < 0.76:
        return rng.choice(["matches(event.device, 'emu-[0-9a-f]+')", "matches(event.campaign, 'spring_.*')"])
    if kind < 0.84:
        return f"attr.claim_ms < {rng.choice([300, 500, 800])}"
    if kind < 0.90:
        return rng.choice(["attr.emulator", "device.blocked", "not customer.allowed"])
    if kind < 0.95:
        return f"event.amount > {rng.choice([99, 1500, 5000])}"
    return f"(ip.accounts_1h >= {rng.randint(5, 20)} or subnet.signups_1h >= {rng.randint(20, 60)})"


def generate_pack(count: int, seed: int = 11) -> dict[str, str]:
    """Pack files with ``count`` risk rules."""
    rng = random.Random(seed)
    lines = ["features:"] + [f"  {name}: {spec}" for name, (spec, _) in FEATURES.items()] + ["rules:"]
    for number in range(count):
        clauses = [_clause(rng) for _ in range(rng.choice([1, 2, 2, 3]))]
        on = sorted(set(rng.sample(TYPES, rng.choice([1, 2, 3]))))
        lines += [
            f"  - id: r{number:04d}",
            f"    code: {10000 + number}",
            f"    on: [{', '.join(on)}]",
            f'    when: "{" and ".join(clauses)}"',
            f"    score: {rng.randint(5, 40)}",
            f"    reason: {{zh: 规则{number}, en: rule {number}}}",
        ]
    return {"pack.yaml": _HEAD, "rules.yaml": "\n".join(lines) + "\n"}


def generate_inputs(count: int, feature_names: list[str], seed: int = 7) -> list[tuple[Event, dict[str, Any]]]:
    """Events with feature values; about a fifth of the values are missing."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 10, tzinfo=UTC)
    inputs = []
    for number in range(count):
        fields: dict[str, Any] = {
            "event_id": f"e{number}",
            "type": rng.choice(TYPES),
            "customer": f"c{rng.randrange(10**6)}",
            "timestamp": start + timedelta(seconds=rng.randrange(86400 * 7)),
            "device": rng.choice(["emu-0a1b", "ios-77", f"d{rng.randrange(1000)}"]),
            "ip": f"{rng.choice([10, 36, 112, 183])}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            "phone": rng.choice(SEGMENTS) + f"{rng.randrange(10**8):08d}",
            "email": f"u{number}@{rng.choice(DOMAINS)}",
            "amount": rng.choice([None, 99.0, 1500.0, 5000.0, 10000.0]),
            "campaign": rng.choice([None, "spring_2026", "double11"]),
            "attributes": {"claim_ms": rng.randint(100, 3000), "emulator": rng.random() < 0.1},
        }
        if fields["type"] == "referral":
            fields["referrer"] = f"c{rng.randrange(1000)}"
        features: dict[str, Any] = {}
        for name in feature_names:
            if rng.random() < 0.8:
                low, high = FEATURES[name][1] if name in FEATURES else (0, 10)
                features[name] = rng.randint(low, high)
        for entity in ("device", "customer"):
            if rng.random() < 0.05:
                features[f"{entity}.blocked" if entity == "device" else "customer.allowed"] = True
        inputs.append((Event(**fields), features))
    return inputs
