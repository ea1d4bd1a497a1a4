"""``yutang replay`` per family: attack families caught, honest look-alikes hurt, rewards attackers took."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engine.backends import BackendKind
from engine.cli import main
from engine.events import Event
from engine.replay.judge import PackSource
from engine.replay.log import LogFormatError, Record, parse_line
from engine.replay.runner import replay

START = datetime(2026, 11, 3, 10, 0, tzinfo=timezone(timedelta(hours=8)))

PACK = """
pack: {name: family-test, timezone: Asia/Shanghai}
features:
  device.accounts_24h: {distinct: customer, by: device, window: 24h}
  customer.orders_365d: {count: [order_paid], by: customer, window: 365d}
decision: {review_at: 40, deny_at: 70, withhold_offers_on: [review, deny]}
tiers:
  - {id: occasional, label: 偶然型, default: true}
rules:
%(rules)s
offers:
  - id: trial
    label: 体验
    tiers: [occasional]
    on: [signup, referral]
    when: "coalesce(customer.orders_365d, 0) == 0"
    effect: {type: trial, value: 99, description: 体验}
  - id: referral_gift
    label: 老带新礼
    tiers: [occasional]
    on: [referral]
    effect: {type: gift, value: 50, description: 精修照片}
    beneficiary: referrer
    hold: {release_on: order_paid, void_after_days: 30}
"""
DEVICE_FARM = """
  - id: device_farm
    code: 1201
    on: [signup]
    when: device.accounts_24h >= 5
    score: 70
    reason: {zh: 同一设备多个账号, en: many accounts on one device}
"""
NOTHING = """
  - id: never
    code: 1202
    on: [signup]
    when: device.accounts_24h >= 1000
    score: 70
    reason: {zh: 从不, en: never}
"""


def source(rules: str) -> PackSource:
    return PackSource({"pack.yaml": PACK % {"rules": rules}}, BackendKind.PYTHON)


class Log:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def add(self, type_: str, customer: str, truth: str, family: str, **fields: Any) -> None:
        n = len(self.records)
        data = {
            "event_id": f"f{n:04d}",
            "type": type_,
            "customer": customer,
            "timestamp": (START + timedelta(minutes=n)).isoformat(),
            **fields,
        }
        self.records.append(Record(Event.model_validate(data), truth, family))


def world() -> Log:
    """A device farm (8 accounts on one phone), a slow farm on fresh phones, a refund ring, and the honest."""
    log = Log()
    for i in range(8):
        log.add("signup", f"farm{i}", "farming_ring", "device_farm", device="dv-rack")
        log.add("signup", f"drip{i}", "slow_drip", "slow_drip", device=f"dv-drip{i}")
    for i in range(6):
        log.add("signup", f"kin{i}", "honest", "family_tablet", device="dv-home-tablet")
    for i in range(10):
        log.add("signup", f"mum{i}", "honest", "parents", device=f"dv-mum{i}")
    log.add("referral", "hired1", "pay_release_refund", "pay_release_refund", referrer="organiser", device="dv-h1")
    log.add("order_paid", "hired1", "pay_release_refund", "pay_release_refund", amount=99)
    return log


async def test_a_family_is_caught_when_half_its_events_after_the_third_are_not_allowed() -> None:
    summary = (await replay(world().records, source(DEVICE_FARM), in_process=True)).summary()
    families = summary["new"]["families"]
    farm = families["attack"]["device_farm"]
    assert (farm["events"], farm["not_allowed"]) == (8, 4)  # the 5th account on and later
    assert (farm["not_allowed_after_third"], farm["caught"]) == (0.8, True)  # 4 of the 5 after the third
    assert families["attack"]["slow_drip"]["caught"] is False
    assert families["honest"]["family_tablet"]["false_positive_rate"] == pytest.approx(2 / 6, abs=1e-4)
    assert families["honest"]["parents"]["false_positive_rate"] == 0
    card = families["scorecard"]
    assert (card["caught"], card["attack_families"], card["missed"]) == (1, 3, ["pay_release_refund", "slow_drip"])
    assert card["precision"] == pytest.approx(4 / 6, abs=1e-4)
    assert card["honest_allowed"] == pytest.approx(14 / 16, abs=1e-4)
    assert card["worst_honest_family"] == "family_tablet"


async def test_rewards_attackers_took_count_held_gifts_when_released_and_compare_to_the_baseline() -> None:
    summary = (await replay(world().records, source(DEVICE_FARM), source(NOTHING), in_process=True)).summary()
    new, old = summary["new"]["families"], summary["baseline"]["families"]
    ring = new["attack"]["pay_release_refund"]["rewards"]
    kept = {k: ring[k] for k in ("count", "cash_value", "trials", "by_offer")}
    assert kept == {"count": 2, "cash_value": 50.0, "trials": 1, "by_offer": {"referral_gift": 1, "trial": 1}}
    assert new["attack"]["device_farm"]["rewards"]["trials"] == 4  # the four accounts before the rule fired
    assert old["attack"]["device_farm"]["rewards"]["trials"] == 8
    assert new["scorecard"]["attacker_rewards"]["count"] == 4 + 8 + 2
    cut = summary["attacker_rewards_cut"]
    assert cut["count_cut"] == pytest.approx(1 - 14 / 18, abs=1e-4)
    assert cut["count_by_family"]["device_farm"] == {"baseline": 8, "new": 4}


def test_the_table_shows_families_and_the_targets_met_or_not(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "new").mkdir()
    (tmp_path / "old").mkdir()
    (tmp_path / "new" / "pack.yaml").write_text(PACK % {"rules": DEVICE_FARM}, encoding="utf-8")
    (tmp_path / "old" / "pack.yaml").write_text(PACK % {"rules": NOTHING}, encoding="utf-8")
    log = tmp_path / "events.jsonl"
    with log.open("w", encoding="utf-8") as out:
        for record in world().records:
            line = json.loads(record.event.model_dump_json(exclude_none=True))
            out.write(json.dumps({**line, "family": record.family, "truth": record.truth}) + "\n")
    args = ["replay", str(log), "--rules", str(tmp_path / "new"), "--baseline", str(tmp_path / "old")]
    assert main([*args, "--backend", "python"]) == 0
    table = capsys.readouterr().out
    assert "attack families caught" in table and "1 of 3" in table
    assert "family_tablet" in table and "33.33%" in table
    assert "missed: pay_release_refund, slow_drip" in table
    assert "cut vs baseline" in table and "NOT MET" in table


def test_the_family_is_read_from_the_log_and_must_be_a_string() -> None:
    line = '{"event_id":"x","type":"signup","customer":"c","family":"family_tablet","truth":"honest"}'
    record = parse_line(line)
    assert (record.truth, record.family) == ("honest", "family_tablet")
    spaced = parse_line('{"event_id": "x", "type": "signup", "customer": "c", "family": "a_b", "truth": "a_b"}')
    assert (spaced.truth, spaced.family) == ("a_b", "a_b")
    assert parse_line('{"event_id":"x","type":"signup","customer":"c","truth":"honest"}').family is None
    with pytest.raises(LogFormatError, match="family must be a string"):
        parse_line('{"event_id": "x", "type": "signup", "customer": "c", "family": 3, "truth": "honest"}')
