"""What the subnet-handset (rules/risk/shared_backend.yaml, 1249) costs one /v1/score: no round trip, three Redis calls.

The subnet-handset's entity hash (the /24 and the handset together) is read and written inside the
event's own feature script, beside the ip's and the device's. One iPhone sign-up on a 4G address
(no Android model: the line-model has no key, so only the subnet-handset differs) is scored by the
shipped pack and by the same pack without the four subnet-handset features and their rule, counted
on the engine's client (round trips, commands sent) and on the server (``INFO commandstats``).
"""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from tests.api.conftest import MakeApi, event
from tests.api.feature_cost import RULES, Cost, assert_one_hash_in_the_same_script, cut, pack_without, sign_up_cost
from tests.api.test_device_model_cost import IPHONE


def _drop_network_clause(rules: Path) -> None:
    """1411/1412's network clause (session 14) reads the subnet-handset: drop it and the pack-case steps setting it."""
    lines = rules.read_text(encoding="utf-8").splitlines(keepends=True)
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "and not (coalesce(subnet.signup_models_24h, 0) >= 4" in line:  # the clause's two lines
            index += 2
            continue
        if "features:" in line and "subnet_handset.signup_accounts_24h" in line:  # a step: event, features, expect
            kept.pop()
            index += 2
            continue
        kept.append(line)
        index += 1
    assert not any("subnet_handset" in line for line in kept)
    rules.write_text("".join(kept), encoding="utf-8")


def _without_subnet_handset(tmp_path: Path) -> Path:
    """The shipped pack minus the ``subnet_handset.*`` features and rules 1249-1250 (with their cases and scenarios)."""
    pack = pack_without(tmp_path, ("  subnet_handset.",), 6)  # four sign-up streams, two newcomer streams
    risk = pack / "risk" / "shared_backend.yaml"
    cut(risk, "  - id: drip_subnet_handset\n", "\ntests:\n")  # the file's last rule
    cut(risk, "  - name: a drip phone on 4G, a new id per account")  # its pack case, the file's last
    _drop_network_clause(pack / "risk" / "device_farms.yaml")
    cut(pack / "scenarios" / "slow_drip.yaml", "  - name: a farmer's iPhone on 4G")  # and its scenario, the last
    return pack


async def _iphone_sign_up(make_api: MakeApi, redis_client: Redis, rules: Path) -> Cost:
    """One iPhone sign-up on a 4G address, after two on the next /24 warmed the scripts."""
    warm = [
        event(
            "signup", customer=f"warm{n}", device=f"w{n}", ip=f"117.136.13.{n + 1}", attributes={"user_agent": IPHONE}
        )
        for n in range(2)
    ]
    return await sign_up_cost(make_api, redis_client, rules, warm=warm, ip="117.136.12.40", user_agent=IPHONE)


async def test_the_subnet_handset_costs_no_round_trip_and_three_calls(
    make_api: MakeApi, redis_client: Redis, tmp_path: Path
) -> None:
    # the subnet-handset's hash: one HMGET, one HSET and its PEXPIRE, in the same script call
    assert_one_hash_in_the_same_script(
        await _iphone_sign_up(make_api, redis_client, RULES),
        await _iphone_sign_up(make_api, redis_client, _without_subnet_handset(tmp_path)),
    )
