"""The blind world (ops/worlds/blind): valid, deterministic, and each family's story really in the data.

Farms must leave the tell their trade cannot avoid (and no family may be told apart by
the shape of its ids); honest look-alikes must be honest by construction (they pay,
come to the studio, never refund, never trip an automation flag).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from engine.events import OUTCOME_TYPES, SCORED_TYPES, Event
from ops.worlds.blind.__main__ import main
from ops.worlds.blind.generate import ATTACKS, DEFAULT_START, dumps, generate
from ops.worlds.blind.lookalikes import LOOKALIKES
from ops.worlds.scorecard import summary, table

Line = dict[str, Any]


@pytest.fixture(scope="module")
def world() -> list[Line]:
    lines, _ = generate(7, 20000)  # at 20,000+ events the farms fit their share (each finishes its last farm)
    return lines


def of(lines: list[Line], family: str) -> list[Line]:
    return [e for e in lines if e["family"] == family]


def at(e: Line) -> datetime:
    return datetime.fromisoformat(e["timestamp"])


def customers(lines: list[Line], family: str) -> set[str]:
    return {e["customer"] for e in of(lines, family)}


def test_the_same_seed_writes_the_same_bytes_and_another_seed_another_world() -> None:
    a = "\n".join(map(dumps, generate(4, 4000)[0]))
    b = "\n".join(map(dumps, generate(4, 4000)[0]))
    c = "\n".join(map(dumps, generate(5, 4000)[0]))
    assert a == b
    assert a != c


def test_the_bytes_do_not_depend_on_the_process(tmp_path: Any) -> None:
    """Two processes with different string-hash seeds write the same file (no set or hash order leaks in)."""
    root = Path(__file__).resolve().parents[2]
    digests = set()
    for hash_seed in ("1", "2"):
        out = tmp_path / f"w{hash_seed}.jsonl"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)}
        cmd = [
            sys.executable,
            "-m",
            "ops.worlds.blind",
            "--seed",
            "3",
            "--events",
            "2500",
            "--days",
            "4",
            "--out",
            str(out),
        ]
        subprocess.run(cmd, env=env, cwd=root, check=True, capture_output=True, timeout=120)
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_every_line_is_an_event_the_api_takes_in_time_order(world: list[Line]) -> None:
    assert len(world) == 20000
    assert len({e["event_id"] for e in world}) == len(world)
    times = [at(e) for e in world]
    assert times == sorted(times)
    end = DEFAULT_START + timedelta(days=8)
    for e in world:
        body = {k: v for k, v in e.items() if k not in ("family", "truth")}
        Event.model_validate(body)
        assert e["truth"] == ("honest" if e["family"] not in ATTACKS else e["family"])
        assert at(e) < end
        if at(e) < DEFAULT_START:  # history: only the back end's outcomes, never a scored event
            assert e["type"] in OUTCOME_TYPES
    assert sum(at(e) < DEFAULT_START for e in world) > 500  # the base's past orders


def test_every_family_is_present_with_its_share(world: list[Line]) -> None:
    counts: dict[str, int] = defaultdict(int)
    for e in world:
        counts[e["family"]] += 1
    for family in [*ATTACKS, *LOOKALIKES]:
        assert counts[family] >= 20, family
    attack = sum(counts[f] for f in ATTACKS) / len(world)
    assert 0.08 <= attack <= 0.17
    assert 0.70 <= counts["parents"] / len(world) <= 0.85
    assert len(ATTACKS) >= 10 and len(LOOKALIKES) >= 10


def test_no_family_has_ids_of_its_own_shape(world: list[Line]) -> None:
    for e in world:
        if e["type"] in SCORED_TYPES:
            assert len(e["customer"]) == 28 and e["customer"][0] == "o"
            assert len(e["device"]) == 32 and set(e["device"]) <= set("0123456789abcdef")
        if "payment" in e:
            assert e["payment"].split("_")[0] in ("wxpay", "alipay", "unionpay")


def test_code_platform_numbers_are_fresh_per_account_but_from_few_batches(world: list[Line]) -> None:
    def numbers(family: str) -> list[str]:
        return [e["phone"].replace(" ", "").removeprefix("+86") for e in of(world, family) if e["type"] == "signup"]

    def sharing_a_block(phones: list[str]) -> float:
        blocks = [p[:7] for p in phones]
        return sum(blocks.count(b) > 1 for b in blocks) / len(blocks)

    rented = numbers("code_platform")
    assert len(set(rented)) == len(rented)
    honest = numbers("parents")[: len(rented)]
    assert sharing_a_block(rented) >= 2 * sharing_a_block(honest) + 0.1


def test_dialup_rotation_never_repeats_a_subnet_but_reuses_its_tool(world: list[Line]) -> None:
    scored = [e for e in of(world, "dialup_rotation") if e["type"] in SCORED_TYPES]
    subnets = [e["ip"].rsplit(".", 1)[0] for e in scored]
    assert len(set(subnets)) >= 0.9 * len(subnets)
    uas = {e["attributes"]["user_agent"].split(" NetType/")[0] for e in scored}
    assert len(uas) < len({e["customer"] for e in scored}) / 3


def test_device_farm_accounts_come_in_waves_from_one_box(world: list[Line]) -> None:
    joins = sorted(at(e) for e in of(world, "device_farm") if e["type"] in ("signup", "referral"))
    gaps = [b - a for a, b in pairwise(joins)]
    in_wave = sum(g <= timedelta(seconds=60) for g in gaps)
    assert in_wave >= 0.8 * len(gaps)
    assert sum(e["type"] == "referral" for e in of(world, "device_farm")) >= 1


def test_slow_drip_stays_under_any_burst(world: list[Line]) -> None:
    joins = [e for e in of(world, "slow_drip") if e["type"] == "signup"]
    per_day: dict[str, int] = defaultdict(int)
    per_hour: dict[str, int] = defaultdict(int)
    for e in joins:
        per_day[e["timestamp"][:10]] += 1
        per_hour[e["timestamp"][:13]] += 1
    assert len(per_day) >= 7
    assert max(per_hour.values()) <= 6  # a few drippers at once, each a few accounts a day


def test_aged_accounts_wait_days_then_cash_out_on_one_night(world: list[Line]) -> None:
    lines = of(world, "aged_accounts")
    created = {e["customer"]: at(e) for e in lines if e["type"] == "signup"}
    night = DEFAULT_START + timedelta(days=7, hours=20)
    cashing = {e["customer"] for e in lines if night <= at(e) < night + timedelta(hours=1)}
    assert len(cashing) >= 0.8 * len(created)
    assert all(night - created[c] > timedelta(days=4) for c in cashing)


def test_a_shared_back_end_pays_from_one_wallet_to_one_place_typed_differently(world: list[Line]) -> None:
    orders = [e for e in of(world, "shared_backend") if e["type"] == "order"]
    by_wallet: dict[str, list[Line]] = defaultdict(list)
    for e in orders:
        by_wallet[e["payment"]].append(e)
    biggest = max(by_wallet.values(), key=len)
    assert len({e["customer"] for e in biggest}) >= 5
    assert len({e["device"] for e in biggest}) == len(biggest)  # a phone each: nothing shared before checkout
    spellings = {e["address"] for e in biggest if "address" in e}
    assert 1 <= len(spellings) <= 6  # one delivery point, typed at most six ways


def test_self_dealt_group_buys_are_one_person(world: list[Line]) -> None:
    groups: dict[str, list[Line]] = defaultdict(list)
    for e in world:
        if e["type"] == "group_buy_join":
            groups[e["group"]].append(e)
    mine = [g for g in groups.values() if g[0]["family"] == "self_dealing_groupbuy"]
    assert mine and all(len(g) == 3 and {e["family"] for e in g} == {"self_dealing_groupbuy"} for g in mine)
    paid_with: dict[str, str] = {
        e["customer"]: e["payment"] for e in of(world, "self_dealing_groupbuy") if e["type"] == "order"
    }

    def shares(g: list[Line]) -> bool:
        keys = ("device", "ip")
        return any(len({e[k] for e in g}) < 3 for k in keys) or len({paid_with.get(e["customer"]) for e in g}) < 3

    assert sum(map(shares, mine)) >= 0.7 * len(mine)


def test_packet_scripts_claim_the_instant_packets_open(world: list[Line]) -> None:
    opened = {(e["group"], at(e) + timedelta(seconds=1)) for e in world if e["type"] == "red_packet_sent"}
    claims = [e for e in of(world, "packet_scripts") if e["type"] == "red_packet_claim"]
    opening = {g: sorted(t for gg, t in opened if gg == g) for g, _ in opened}
    fast = sum(any(timedelta(0) <= at(e) - t < timedelta(seconds=2.5) for t in opening[e["group"]]) for e in claims)
    assert claims and fast >= 0.95 * len(claims)


def test_resold_codes_are_redeemed_by_strangers_to_the_group(world: list[Line]) -> None:
    members: dict[str, set[str]] = defaultdict(set)
    for e in world:
        if e["type"] == "member_joined":
            members[e["group"]].add(e["customer"])
    codes = {
        e["coupon"]: e["group"] for e in world if e["type"] == "coupon_claim" and e.get("coupon") and e.get("group")
    }
    resold = [e for e in of(world, "code_resale") if e["type"] == "coupon_claim"]
    assert resold and all(e["coupon"] in codes and e["customer"] not in members[codes[e["coupon"]]] for e in resold)


def test_a_referral_tree_is_deep_nationwide_and_never_buys(world: list[Line]) -> None:
    lines = of(world, "referral_tree")
    parent = {e["customer"]: e["referrer"] for e in lines if e["type"] == "referral"}

    def depth(c: str) -> int:
        return 1 + depth(parent[c]) if c in parent else 0

    assert max(map(depth, parent)) >= 3
    assert not any(e["type"] in ("order", "order_paid") for e in lines)
    assert len({e["ip"].split(".")[0] + "." + e["ip"].split(".")[1] for e in lines if "ip" in e}) >= 5


def test_hired_buyers_pay_then_refund_and_never_come(world: list[Line]) -> None:
    lines = of(world, "pay_release_refund")
    last = DEFAULT_START + timedelta(days=4)  # refunds come up to four days later: inside the window
    paid = {e["customer"] for e in lines if e["type"] == "order_paid" and DEFAULT_START <= at(e) < last}
    refunded = {e["customer"] for e in lines if e["type"] == "refund"}
    assert paid and len(paid & refunded) >= 0.6 * len(paid)  # 80-100% refund, drawn per seed
    assert not any(e["type"] == "store_visit" for e in lines)


def test_honest_families_are_honest_by_construction(world: list[Line]) -> None:
    attack_ids = {e[k] for e in world if e["family"] in ATTACKS for k in ("device", "payment") if k in e}
    for e in world:
        if e["truth"] != "honest":
            continue
        assert e["type"] not in ("refund", "chargeback", "label")
        assert not {e.get("device"), e.get("payment")} & attack_ids
        flags = e.get("attributes", {})
        assert not (flags.get("automation") or flags.get("emulator") or flags.get("tampered"))
    for family in ("family_tablet", "office_lunch_wave", "counter_tablet", "popular_referrer", "grandparents_phone"):
        joined = customers([e for e in world if e["type"] in ("signup", "referral")], family)
        paid = customers([e for e in world if e["type"] == "order_paid"], family)
        assert len(paid & joined) >= 0.3 * len(joined), family
    visits = customers([e for e in world if e["type"] == "store_visit"], "counter_tablet")
    assert len(visits) >= 0.6 * len(customers(world, "counter_tablet"))


def test_a_household_tablet_holds_a_family_not_a_farm(world: list[Line]) -> None:
    per_device: dict[str, set[str]] = defaultdict(set)
    for e in of(world, "family_tablet"):
        if "device" in e:
            per_device[e["device"]].add(e["customer"])
    assert per_device and all(2 <= len(c) <= 4 for c in per_device.values())


def test_the_command_writes_the_log_and_refuses_a_world_too_small(tmp_path: Any, capsys: Any) -> None:
    out = tmp_path / "w.jsonl"
    assert main(["--seed", "2", "--events", "3000", "--days", "5", "--out", str(out)]) == 0
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) == 3000 and json.loads(lines[0])["event_id"] == "bw2-000000"
    assert json.loads(capsys.readouterr().err.splitlines()[0])["events"] == 3000
    for bad in (["--events", "100"], ["--start", "12/05"]):
        with pytest.raises(SystemExit) as refused:
            main([*bad, "--out", str(out)])
        assert refused.value.code == 2


def test_the_scorecard_reads_replays_report_per_family() -> None:
    def report(caught: bool, fp: float) -> dict[str, Any]:
        flow = {"count": 3, "value": 90.0}
        attack = {"events": 40, "not_allowed_after_third": 0.7 if caught else 0.2, "caught": caught}
        card = {
            "attack_families": 1,
            "caught": int(caught),
            "missed": [] if caught else ["slow_drip"],
            "precision": 0.8,
            "honest_allowed": 0.97,
            "attacker_rewards": {"count": 2, "cash_value": 60.0, "trials": 1},
            "attacker_flow": {"granted": flow, "pending": flow},
        }
        families = {"attack": {"slow_drip": attack}, "honest": {"family_tablet": {"false_positive_rate": fp}}}
        return {"new": {"families": {**families, "scorecard": card}}}

    seeds = [("s1", summary(report(True, 0.1))), ("s2", summary(report(False, 0.25)))]
    rows = table(seeds).splitlines()
    assert "| slow_drip | **caught** 0.70 | missed 0.20 |" in rows
    assert "| family_tablet (honest, FP) | 0.100 | 0.250 |" in rows
    assert "| caught | 1 / 1 | 0 / 1 |" in rows
