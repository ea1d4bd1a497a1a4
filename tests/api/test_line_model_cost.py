"""What the line-model (rules/risk/shared_backend.yaml, 1248) costs one /v1/score: no round trip, three Redis calls.

The line-model's entity hash (the ip and the Android model together) is read and written inside
the event's own feature script, beside the model's, the ip's and the device's. One Android
sign-up on a line is scored by the shipped pack and by the same pack without the line-model
feature and its rule, counted on the engine's client (round trips, commands sent) and on the
server (``INFO commandstats``: every ``redis.call`` a script makes is counted there).
"""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from tests.api.conftest import MakeApi, event
from tests.api.feature_cost import RULES, Cost, assert_one_hash_in_the_same_script, cut, pack_without, sign_up_cost
from tests.api.test_device_model_cost import ANDROID, IPHONE


def _drop_campus_clause(rules: Path) -> None:
    """1411/1412's campus-wave clause reads the line model: drop it, and the pack-case steps that set it."""
    lines = rules.read_text(encoding="utf-8").splitlines(keepends=True)
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "and not (coalesce(ip.signups_1h, 0) >= 10" in line:  # the clause's two lines
            index += 2
            continue
        if "features:" in line and "line_model.signup_accounts_30d" in line:  # a step: event, features, expect
            kept.pop()
            index += 2
            continue
        kept.append(line)
        index += 1
    assert not any("line_model" in line for line in kept)
    rules.write_text("".join(kept), encoding="utf-8")


def _without_line_model(tmp_path: Path) -> Path:
    """The shipped pack minus ``line_model.signup_accounts_30d`` and rule 1248 (with its pack case and scenarios)."""
    pack = pack_without(tmp_path, ("  line_model.signup_accounts_30d:",), 1)
    risk = pack / "risk" / "shared_backend.yaml"
    cut(risk, "  - id: drip_line_one_model\n", "  - id: ")
    cut(risk, "  - name: a drip phone whose id is reset per account")  # its pack case, the file's last
    _drop_campus_clause(pack / "risk" / "device_farms.yaml")
    # and its two scenarios, the file's last
    cut(pack / "scenarios" / "slow_drip.yaml", "  - name: a farmer's one phone on the home line")
    return pack


async def _android_sign_up(make_api: MakeApi, redis_client: Redis, rules: Path) -> Cost:
    """One Android sign-up on a home line, after two iPhones' (no model) warmed the scripts."""
    warm = [event("signup", customer=f"warm{n}", device=f"w{n}", attributes={"user_agent": IPHONE}) for n in range(2)]
    return await sign_up_cost(make_api, redis_client, rules, warm=warm, ip="60.177.224.82", user_agent=ANDROID)


async def test_the_line_model_costs_no_round_trip_and_three_calls(
    make_api: MakeApi, redis_client: Redis, tmp_path: Path
) -> None:
    # the line-model's hash: one HMGET, one HSET and its PEXPIRE, in the same script call (the packs'
    # own loading differs by a GET or two, which no scored event makes)
    assert_one_hash_in_the_same_script(
        await _android_sign_up(make_api, redis_client, RULES),
        await _android_sign_up(make_api, redis_client, _without_line_model(tmp_path)),
    )
