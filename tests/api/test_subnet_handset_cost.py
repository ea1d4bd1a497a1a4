"""What the subnet-handset (rules/risk/shared_backend.yaml, 1249) costs one /v1/score: no round trip, three Redis calls.

The subnet-handset's entity hash (the /24 and the handset together) is read and written inside the
event's own feature script, beside the ip's and the device's. One iPhone sign-up on a 4G address
(no Android model: the line-model has no key, so only the subnet-handset differs) is scored by the
shipped pack and by the same pack without the four subnet-handset features and their rule, counted
on the engine's client (round trips, commands sent) and on the server (``INFO commandstats``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from redis.asyncio import Redis

from tests.api.conftest import MakeApi, event
from tests.api.test_device_model_cost import IPHONE
from tests.api.test_round_trips import cost

RULES = Path(__file__).resolve().parents[2] / "rules"
FEATURE = "  subnet_handset."


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
    """The shipped pack minus the ``subnet_handset.*`` features and rule 1249 (with its pack case and scenario)."""
    pack = tmp_path / "rules"
    shutil.copytree(RULES, pack)
    features = pack / "features.yaml"
    lines = features.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(FEATURE)]
    assert len(kept) == len(lines) - 4
    features.write_text("".join(kept), encoding="utf-8")
    risk = pack / "risk" / "shared_backend.yaml"
    text = risk.read_text(encoding="utf-8")
    start = text.index("  - id: drip_subnet_handset\n")
    end = text.index("\ntests:\n", start) + 1  # the file's last rule
    text = text[:start] + text[end:]
    case = text.index("  - name: a drip phone on 4G, a new id per account")  # its pack case, the file's last
    risk.write_text(text[:case], encoding="utf-8")
    _drop_network_clause(pack / "risk" / "device_farms.yaml")
    scenarios = pack / "scenarios" / "slow_drip.yaml"  # and its scenario, the file's last
    text = scenarios.read_text(encoding="utf-8")
    scenarios.write_text(text[: text.index("  - name: a farmer's iPhone on 4G")], encoding="utf-8")
    return pack


async def _calls(redis_client: Redis) -> dict[str, int]:
    stats = await redis_client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def _iphone_sign_up(
    make_api: MakeApi, redis_client: Redis, rules: Path
) -> tuple[tuple[int, int], dict[str, int]]:
    await redis_client.flushdb()  # each pack starts from an empty store: first writes alike
    async with make_api(rules_path=rules) as api:
        for n in range(2):  # warm the composite scripts
            warm = event("signup", customer=f"warm{n}", device=f"w{n}", ip=f"117.136.13.{n + 1}")
            await cost(api, warm | {"attributes": {"user_agent": IPHONE}})
        before = await _calls(redis_client)
        answer, trips, commands = await cost(
            api,
            event("signup", device=f"dv-{rules.parent.name}", ip="117.136.12.40", attributes={"user_agent": IPHONE}),
        )
        assert answer.status_code == 200 and not answer.json()["degraded"]
        after = await _calls(redis_client)
        return (trips, commands), {name: after[name] - before.get(name, 0) for name in after}


async def test_the_subnet_handset_costs_no_round_trip_and_three_calls(
    make_api: MakeApi, redis_client: Redis, tmp_path: Path
) -> None:
    sent, spent = await _iphone_sign_up(make_api, redis_client, RULES)
    sent_before, spent_before = await _iphone_sign_up(make_api, redis_client, _without_subnet_handset(tmp_path))
    assert sent == sent_before and sent[0] == 2, (sent, sent_before)  # no round trip, no command added
    # the subnet-handset's hash: one HMGET, one HSET and its PEXPIRE, in the same script call
    for name in ("hmget", "hset", "pexpire"):
        assert spent[name] - spent_before[name] == 1, (name, spent, spent_before)
