"""``yutang replay``: live-path features on a sandboxed Redis, baseline diffs, truth metrics, offers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engine.backends import BackendKind
from engine.cli import main
from engine.events import Event
from engine.features.store import FeatureStore
from engine.replay.judge import PackSource
from engine.replay.log import LogFormatError, Record, parse_line
from engine.replay.plans import shared_plan
from engine.replay.runner import replay

CHINA = timezone(timedelta(hours=8))
START = datetime(2026, 11, 3, 10, 0, tzinfo=CHINA)

PACK = """
pack: {name: replay-test, timezone: Asia/Shanghai}
attributes:
  claim_ms: number
features:
  device.accounts_24h: {distinct: customer, by: device, window: 24h}
  customer.orders_365d: {count: [order_paid], by: customer, window: 365d}
  referrer.invitees_24h: {referral: invitees, window: 24h}
  referrer.invitee_devices_24h: {referral: invitee_devices, window: 24h}
decision:
  review_at: 40
  deny_at: 70
  withhold_offers_on: [review, deny]
tiers:
  - {id: regular, label: 常规型, when: "customer.orders_365d >= 1"}
  - {id: occasional, label: 偶然型, default: true}
rules:
  - id: bot_tap
    code: 1301
    on: [red_packet_claim]
    when: attr.claim_ms < 800
    score: 50
    reason: {zh: 领取过快, en: faster than a person}
  - id: fast_tap_experiment
    code: 1302
    on: [red_packet_claim]
    when: attr.claim_ms < 1200
    score: 10
    mode: shadow
    reason: {zh: 试验, en: experiment}
  - id: invitee_burst
    code: 1101
    on: [referral]
    when: referrer.invitees_24h >= 5 and referrer.invitee_devices_24h <= 2
    score: 50
    reason: {zh: 邀请集中, en: invitees on few devices}
%(extra)s
offers:
  - id: newcomer_trial
    label: 99元体验
    tiers: [occasional]
    on: [signup, referral]
    when: "coalesce(customer.orders_365d, 0) == 0"
    effect: {type: trial, value: 99, description: 体验}
  - id: weekly_packet
    label: 群红包
    tiers: [occasional, regular]
    on: [red_packet_claim]
    effect: {type: red_packet, value: 5, description: 红包}
    budget: {total: 3, per_customer: 1}
  - id: referral_gift
    label: 老带新礼
    tiers: [occasional, regular]
    on: [referral]
    effect: {type: gift, value: 50, description: 精修照片}
    beneficiary: referrer
    hold: {release_on: order_paid, void_after_days: 30}
"""

DEVICE_FARM = """
  - id: device_farm
    code: 1201
    on: [signup, referral]
    when: device.accounts_24h >= 5
    score: 70
    reason: {zh: 同一设备多个账号, en: many accounts on one device}
"""


def pack(extra: str = "") -> PackSource:
    return PackSource({"pack.yaml": PACK % {"extra": extra}}, BackendKind.PYTHON)


def event(n: int, type_: str, customer: str, minutes: float = 0, truth: str | None = None, **fields: Any) -> Record:
    at = START + timedelta(minutes=minutes if minutes else n)
    data = {"event_id": f"e{n:04d}", "type": type_, "customer": customer, "timestamp": at.isoformat(), **fields}
    return Record(Event.model_validate(data), truth)


def signups_on_one_device(count: int) -> list[Record]:
    """``count`` accounts signing up on one phone, a minute apart, between honest parents."""
    records = []
    for i in range(count):
        records.append(event(2 * i, "signup", f"farm{i}", device="dv-farm", ip="47.92.13.5", truth="farming_ring"))
        records.append(event(2 * i + 1, "signup", f"parent{i}", device=f"dv-p{i}", ip=f"36.1.{i}.9", truth="honest"))
    return records


async def test_a_device_farm_fires_from_the_fifth_account_on_and_the_diff_lists_exactly_those() -> None:
    records = signups_on_one_device(8)
    run = await replay(records, pack(DEVICE_FARM), baseline=pack())
    summary = run.summary()
    changed = [c["event_id"] for c in summary["diff"]["changes"]]
    assert changed == ["e0008", "e0010", "e0012", "e0014"]  # farm accounts 5..8
    assert {c["new"]["decision"] for c in summary["diff"]["changes"]} == {"deny"}
    assert summary["diff"]["moves"] == {"allow->deny": 4}
    assert summary["new"]["decisions"] == {"allow": 12, "review": 0, "deny": 4}
    assert summary["baseline"]["decisions"] == {"allow": 16, "review": 0, "deny": 0}


async def test_a_burst_of_invitees_from_one_device_is_counted_like_live_traffic() -> None:
    records = [
        event(i, "referral", f"inv{i}", referrer="farmer", device=f"dv-{i % 2}", ip="58.20.1.10") for i in range(7)
    ] + [event(10 + i, "referral", f"friend{i}", referrer="mum", device=f"dv-f{i}") for i in range(6)]
    run = await replay(records, pack())
    summary = run.summary()
    rules = {r["rule"]: r for r in summary["new"]["rules"]}
    assert rules["invitee_burst"]["hits"] == 3  # the farmer's 5th, 6th and 7th invitee; never mum's friends
    assert summary["new"]["decisions_by_type"]["referral"]["review"] == 3


async def test_batched_replay_in_two_processes_decides_exactly_as_one_event_at_a_time() -> None:
    records = (
        signups_on_one_device(9)
        + [event(40 + i, "referral", f"inv{i}", referrer="farmer", device="dv-same") for i in range(8)]
        + labelled_red_packets(first=60)
    )
    one_by_one = (await replay(records, pack(DEVICE_FARM), batch=1, in_process=True)).summary()
    batched = (await replay(records, pack(DEVICE_FARM), batch=4)).summary()
    assert one_by_one["new"]["decisions"] == {"allow": 23, "review": 4, "deny": 9}
    for key in ("decisions", "decisions_by_type", "rules", "offers", "truth"):
        assert one_by_one["new"][key] == batched["new"][key]


async def test_replay_reads_the_same_features_the_live_store_returns(redis_client: Any, tenant: str) -> None:
    """Live path: FeatureStore.record_and_read per event on a real Redis, then evaluate."""
    loaded = pack(DEVICE_FARM).load()
    records = signups_on_one_device(7)
    store = FeatureStore(redis_client, secret=b"a-test-secret-of-32-bytes-length")
    plan = shared_plan([loaded.ruleset])
    live = []
    for record in records:
        snapshot = await store.record_and_read(tenant=tenant, event=record.event, specs=plan.specs["signup"])
        live.append(loaded.evaluate(record.event, snapshot.values).decision.value)
    run = await replay(records, pack(DEVICE_FARM))
    decisions = run.summary()["new"]["decisions"]
    assert {d: n for d, n in decisions.items() if n} == {d: live.count(d) for d in set(live)}
    assert live.count("deny") == 3


async def test_order_paid_outcomes_feed_the_customer_history_tiers_and_offers_read() -> None:
    records = [
        event(1, "order_paid", "mum", amount=99),
        event(2, "signup", "mum", device="dv-mum"),
        event(3, "signup", "newbie", device="dv-new"),
    ]
    run = await replay(records, pack())
    offers = {o["offer"]: o for o in run.summary()["new"]["offers"]}
    assert offers["newcomer_trial"]["eligible"] == 1  # only the newcomer: mum has a paid order
    assert (run.summary()["outcomes"], run.summary()["scored"]) == (1, 2)


def labelled_red_packets(first: int = 0) -> list[Record]:
    """4 bot taps (one slow enough to pass), 6 parents (one very quick) in one group."""
    taps = [
        (80, "red_packet_bot"),
        (120, "red_packet_bot"),
        (300, "red_packet_bot"),
        (1100, "red_packet_bot"),
        (2500, "honest"),
        (3100, "honest"),
        (1900, "honest"),
        (2200, "honest"),
        (4000, "honest"),
        (700, "honest"),
    ]
    return [
        event(
            i,
            "red_packet_claim",
            f"c{i}",
            truth=truth,
            device=f"dv-{i}",
            group="parents-01",
            amount=5,
            attributes={"claim_ms": ms},
        )
        for i, (ms, truth) in enumerate(taps, start=first)
    ]


async def test_precision_and_recall_per_rule_overall_and_per_abuse_kind() -> None:
    summary = (await replay(labelled_red_packets(), pack())).summary()
    truth = summary["new"]["truth"]
    assert truth["overall"] == {
        "abusive_events": 4,
        "honest_events": 6,
        "flagged_abusive": 3,
        "flagged_honest": 1,
        "precision": 0.75,
        "recall": 0.75,
    }
    assert truth["false_alarm_reasons"] == [{"rules": ["bot_tap"], "events": 1}]  # the one very quick parent
    # per honest family too (unlabelled families fall back to their truth)
    assert truth["false_alarm_reasons_by_family"] == {"honest": [{"rules": ["bot_tap"], "events": 1}]}
    assert truth["kinds"]["red_packet_bot"]["precision"] == 0.75
    assert truth["kinds"]["red_packet_bot"]["recall"] == 0.75
    rules = {r["rule"]: r for r in summary["new"]["rules"]}
    assert (rules["bot_tap"]["precision"], rules["bot_tap"]["recall"]) == (0.75, 0.75)
    shadow = rules["fast_tap_experiment"]  # < 1200 ms: all four bots and the quick parent
    assert (shadow["mode"], shadow["hits"], shadow["precision"], shadow["recall"]) == ("shadow", 5, 0.8, 1.0)
    assert rules["invitee_burst"]["recall"] is None  # no abusive referral to catch
    assert summary["honest_offers"] == {"customers": 6, "withheld_by_risk": 1, "withheld_share": 0.1667}


async def test_budgets_cap_what_offers_cost_and_held_gifts_cost_once_released() -> None:
    parents = [r for r in labelled_red_packets() if r.truth == "honest" and r.event.attributes["claim_ms"] > 800]
    referrals = [
        event(50, "referral", "friend1", referrer="mum", device="dv-f1"),
        event(51, "referral", "friend2", referrer="aunt", device="dv-f2"),
        event(52, "order_paid", "friend1", amount=99),
    ]
    summary = (await replay(parents + referrals, pack())).summary()["new"]
    offers = {o["offer"]: o for o in summary["offers"]}
    assert (offers["weekly_packet"]["eligible"], offers["weekly_packet"]["granted"]) == (5, 3)
    assert offers["weekly_packet"]["out_of_budget"] == 2
    assert (offers["referral_gift"]["held"], offers["referral_gift"]["released"]) == (2, 1)
    assert summary["cash_cost"] == 3 * 5 + 50


async def test_two_replays_of_one_log_start_from_empty_stores() -> None:
    records = signups_on_one_device(6)
    first, second = [await replay(records, pack(DEVICE_FARM)) for _ in range(2)]
    assert (
        first.summary()["new"]["decisions"]
        == second.summary()["new"]["decisions"]
        == {
            "allow": 10,
            "review": 0,
            "deny": 2,
        }
    )


def write_log(path: Path, records: list[Record]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            line = json.loads(record.event.model_dump_json(exclude_none=True))
            if record.truth:
                line["truth"] = record.truth
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


def test_the_command_prints_a_table_and_json_with_the_changed_events(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "new").mkdir()
    (tmp_path / "old").mkdir()
    (tmp_path / "new" / "pack.yaml").write_text(PACK % {"extra": DEVICE_FARM}, encoding="utf-8")
    (tmp_path / "old" / "pack.yaml").write_text(PACK % {"extra": ""}, encoding="utf-8")
    log = tmp_path / "events.jsonl"
    write_log(log, signups_on_one_device(6))
    args = [
        "replay",
        str(log),
        "--rules",
        str(tmp_path / "new"),
        "--baseline",
        str(tmp_path / "old"),
        "--backend",
        "python",
    ]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["event_id"] for c in report["diff"]["changes"]] == ["e0008", "e0010"]
    assert report["new"]["truth"]["kinds"]["farming_ring"]["recall"] == pytest.approx(2 / 6, abs=1e-4)
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "decisions changed vs baseline: 2 (allow->deny 2)" in table
    assert "e0008" in table and "device_farm" in table
    assert "farming_ring" in table


def test_a_line_the_api_would_refuse_is_reported_with_its_line_number(tmp_path: Path, capsys: Any) -> None:
    log = tmp_path / "bad.jsonl"
    good = signups_on_one_device(1)[0]
    write_log(log, [good])
    with log.open("a", encoding="utf-8") as out:
        out.write('{"event_id": "x1", "type": "signup", "customer": "c1", "colour": "red"}\n')
    assert main(["replay", str(log), "--backend", "python"]) == 1
    assert f"{log}:2: colour" in capsys.readouterr().err
    with pytest.raises(LogFormatError, match="truth must be a string"):
        parse_line('{"event_id": "x", "type": "signup", "customer": "c", "truth": 3}')


@pytest.mark.slow
def test_the_shipped_pack_catches_the_simulated_farms_and_referral_bursts(tmp_path: Path, capsys: Any) -> None:
    """Issue 14's bars the shipped pack meets, on a seed it was not tuned on (README has seeds 1-3)."""
    log = tmp_path / "sim.jsonl"
    assert main(["simulate", "--out", str(log), "--events", "30000", "--seed", "7"]) == 0
    capsys.readouterr()
    assert main(["replay", str(log), "--rules", str(Path(__file__).resolve().parents[2] / "rules"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    families = report["new"]["families"]
    for kind in ("farming_ring", "fake_referral_burst", "red_packet_bot", "multi_account_group_buy"):
        assert families["attack"][kind]["caught"], kind
    card = families["scorecard"]
    assert card["caught"] >= 6, card["missed"]
    assert card["precision"] >= 0.95
    assert card["honest_allowed"] >= 0.99
    # seed 7 (never tuned on): worst family_tablet 3.1%. Not the log of the earlier 5.19%
    # office_lunch_wave: the simulator's per-seed habits (4G claims, numbers from home) redrew it
    honest = families["honest"]
    above = {kind: f["false_positive_rate"] for kind, f in honest.items() if f["false_positive_rate"] > 0.05}
    # Session 9 reported grandparents_phone (drip_phone_roaming_rented) and campus_lunch_wave
    # above 5% here as an xfail; session 10's 1244 / 1246 / referral changes bring every honest
    # family within it on this seed (campus is still 7.8% on seed 2: README, "session 10").
    assert not above, above
