"""``yutang simulate``: seeded, time-ordered, API-valid logs with the advertised mix of abuse."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.compile.pack import compile_path
from engine.events import SCORED_TYPES, phone_segment
from engine.replay.log import parse_line
from engine.simulate.generate import DEFAULT_SHARES, SimulationConfig, simulate
from engine.simulate.world import ATTRIBUTES
from tests.engine.sim_helpers import fold_address

RULES = Path(__file__).resolve().parents[2] / "rules"
VIRTUAL = {"162", "165", "167", "170", "171"}


@pytest.fixture(scope="module")
def log() -> list[dict[str, Any]]:
    return list(simulate(SimulationConfig(events=12_000, seed=11)))


def by_truth(log: list[dict[str, Any]], truth: str) -> list[dict[str, Any]]:
    return [r for r in log if r["truth"] == truth]


def test_the_same_seed_writes_the_same_log_byte_for_byte(tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("a.jsonl", "b.jsonl", "c.jsonl")]
    for path, seed in zip(paths, (5, 5, 6), strict=True):
        assert main(["simulate", "--out", str(path), "--events", "3000", "--seed", str(seed)]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()
    assert len(paths[0].read_text(encoding="utf-8").splitlines()) == 3000


def test_every_line_is_an_event_the_api_accepts_in_time_order(log: list[dict[str, Any]]) -> None:
    records = [parse_line(json.dumps(r, ensure_ascii=False)) for r in log]
    times = [r.event.timestamp for r in records]
    assert times == sorted(times)
    assert len({r.event.event_id for r in records}) == len(records) == 12_000
    assert {r.truth for r in records} == {"honest", *DEFAULT_SHARES}
    window_start = date(2026, 11, 1)
    scored = [r for r in records if r.event.type in SCORED_TYPES]
    assert all(r.event.timestamp.date() >= window_start for r in scored)  # only paid history precedes the window
    assert max(times).date() < date(2026, 11, 15)


def test_abuse_kinds_get_their_share_and_honest_parents_the_rest(log: list[dict[str, Any]]) -> None:
    kinds = Counter(r["truth"] for r in log)
    for kind, share in DEFAULT_SHARES.items():
        assert kinds[kind] == int(12_000 * share)
    honest_types = Counter(r["type"] for r in by_truth(log, "honest"))
    for event_type in (
        "signup",
        "referral",
        "coupon_claim",
        "red_packet_claim",
        "group_buy_join",
        "order",
        "order_paid",
        "refund",
    ):
        assert honest_types[event_type] > 0, event_type
    assert honest_types["order_paid"] >= honest_types["order"]  # every order is paid, plus last year's history


def test_honest_referrals_are_friends_on_their_own_phones_who_mostly_buy(log: list[dict[str, Any]]) -> None:
    honest = [r for r in log if r["family"] == "parents"]  # the look-alikes have tests of their own
    invitees = {r["customer"]: r for r in honest if r["type"] == "referral"}
    payers = {r["customer"] for r in honest if r["type"] == "order_paid"}
    per_referrer = Counter(r["referrer"] for r in invitees.values())
    assert max(per_referrer.values()) <= 6
    assert len({r["device"] for r in invitees.values()}) == len(invitees)
    assert len(payers & invitees.keys()) / len(invitees) > 0.55


def test_farming_rings_share_devices_and_use_virtual_numbers_and_never_pay(log: list[dict[str, Any]]) -> None:
    ring = by_truth(log, "farming_ring")
    signups = [r for r in ring if r["type"] == "signup"]
    accounts_per_device = Counter(r["device"] for r in signups)
    assert sum(accounts_per_device.values()) / len(accounts_per_device) >= 5
    assert sum(phone_segment(r["phone"]) in VIRTUAL for r in signups) / len(signups) > 0.5
    assert {r["type"] for r in ring} <= {"signup", "coupon_claim", "red_packet_claim", "group_buy_join"}
    subnets = {r["ip"].rsplit(".", 1)[0] for r in signups}
    assert len(subnets) < len(accounts_per_device)


def test_fake_referral_bursts_are_dozens_of_invitees_within_minutes(log: list[dict[str, Any]]) -> None:
    burst = [r for r in by_truth(log, "fake_referral_burst") if r["type"] == "referral"]
    by_referrer: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in burst:
        by_referrer[record["referrer"]].append(record)
    complete = [rs for rs in by_referrer.values() if len(rs) >= 10]
    assert complete
    for invitees in complete:
        first, last = parse_line(json.dumps(invitees[0])), parse_line(json.dumps(invitees[-1]))
        assert (last.event.timestamp - first.event.timestamp).total_seconds() < len(invitees) * 100
        assert len({r["ip"].rsplit(".", 1)[0] for r in invitees}) <= 2  # one home line, or one subnet
    payers = {r["customer"] for r in log if r["type"] == "order_paid"}
    assert not payers & {r["customer"] for r in burst}


def test_red_packet_bots_tap_faster_than_parents(log: list[dict[str, Any]]) -> None:
    def claim_ms(truth: str) -> list[int]:
        return sorted(r["attributes"]["claim_ms"] for r in by_truth(log, truth) if r["type"] == "red_packet_claim")

    bots, parents = claim_ms("red_packet_bot"), claim_ms("honest")
    assert bots[len(bots) // 2] < 800 < parents[len(parents) // 100]  # a bot's median beats 99% of parents
    assert bots[-1] < 1500


def test_multi_account_group_buys_share_a_home_typed_several_ways(log: list[dict[str, Any]]) -> None:
    joins = [r for r in by_truth(log, "multi_account_group_buy") if r["type"] == "group_buy_join"]
    groups: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in joins:
        groups[record["group"]].append(record)
    assert any(len({m["address"] for m in members}) > 1 for members in groups.values())  # typed differently...
    for members in groups.values():
        assert len({fold_address(m["address"]) for m in members}) == 1  # ...one home
        assert len({m["ip"] for m in members}) <= len(members)
        assert len({m["customer"] for m in members}) == len(members)


def test_the_simulator_only_sends_attributes_the_shipped_pack_declares(log: list[dict[str, Any]]) -> None:
    ruleset, _ = compile_path(RULES)
    assert ruleset is not None
    sent = {name for r in log for name in r.get("attributes", {})}
    assert sent <= ATTRIBUTES
    assert {f"attr.{name}" for name in sent} <= set(ruleset.attributes)


@pytest.mark.slow
def test_a_hundred_thousand_events_take_seconds(tmp_path: Path) -> None:
    out = tmp_path / "big.jsonl"
    started = time.perf_counter()
    assert main(["simulate", "--out", str(out), "--events", "100000"]) == 0
    assert time.perf_counter() - started < 30  # ~4 s on an idle core; the shared box runs 3-5x slower
    with out.open(encoding="utf-8") as lines:
        assert sum(1 for _ in lines) == 100_000
