"""What the line-model (rules/risk/shared_backend.yaml, 1248) costs one /v1/score: no round trip, three Redis calls.

The line-model's entity hash (the ip and the Android model together) is read and written inside
the event's own feature script, beside the model's, the ip's and the device's. One Android
sign-up on a line is scored by the shipped pack and by the same pack without the line-model
feature and its rule, counted on the engine's client (round trips, commands sent) and on the
server (``INFO commandstats``: every ``redis.call`` a script makes is counted there).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from redis.asyncio import Redis

from tests.api.conftest import MakeApi, event
from tests.api.test_device_model_cost import ANDROID, IPHONE
from tests.api.test_round_trips import cost

RULES = Path(__file__).resolve().parents[2] / "rules"
FEATURE = "  line_model.signup_accounts_30d:"


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
    pack = tmp_path / "rules"
    shutil.copytree(RULES, pack)
    features = pack / "features.yaml"
    lines = features.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(FEATURE)]
    assert len(kept) == len(lines) - 1
    features.write_text("".join(kept), encoding="utf-8")
    risk = pack / "risk" / "shared_backend.yaml"
    text = risk.read_text(encoding="utf-8")
    start = text.index("  - id: drip_line_one_model\n")
    end = text.index("  - id: ", start + 1)
    text = text[:start] + text[end:]
    case = text.index("  - name: a drip phone whose id is reset per account")  # its pack case, the file's last
    risk.write_text(text[:case], encoding="utf-8")
    _drop_campus_clause(pack / "risk" / "device_farms.yaml")
    scenarios = pack / "scenarios" / "slow_drip.yaml"  # and its two scenarios, the file's last
    text = scenarios.read_text(encoding="utf-8")
    scenarios.write_text(text[: text.index("  - name: a farmer's one phone on the home line")], encoding="utf-8")
    return pack


async def _calls(redis_client: Redis) -> dict[str, int]:
    stats = await redis_client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def _android_sign_up(
    make_api: MakeApi, redis_client: Redis, rules: Path
) -> tuple[tuple[int, int], dict[str, int]]:
    await redis_client.flushdb()  # each pack starts from an empty store: first writes alike
    async with make_api(rules_path=rules) as api:
        for n in range(2):  # warm the composite scripts
            await cost(api, event("signup", customer=f"warm{n}", device=f"w{n}", attributes={"user_agent": IPHONE}))
        before = await _calls(redis_client)
        answer, trips, commands = await cost(
            api,
            event("signup", device=f"dv-{rules.parent.name}", ip="60.177.224.82", attributes={"user_agent": ANDROID}),
        )
        assert answer.status_code == 200 and not answer.json()["degraded"]
        after = await _calls(redis_client)
        return (trips, commands), {name: after[name] - before.get(name, 0) for name in after}


async def test_the_line_model_costs_no_round_trip_and_three_calls(
    make_api: MakeApi, redis_client: Redis, tmp_path: Path
) -> None:
    sent, spent = await _android_sign_up(make_api, redis_client, RULES)
    sent_before, spent_before = await _android_sign_up(make_api, redis_client, _without_line_model(tmp_path))
    assert sent == sent_before and sent[0] == 2, (sent, sent_before)  # no round trip, no command added
    # the line-model's hash: one HMGET, one HSET and its PEXPIRE, in the same script call (the packs'
    # own loading differs by a GET or two, which no scored event makes)
    for name in ("hmget", "hset", "pexpire"):
        assert spent[name] - spent_before[name] == 1, (name, spent, spent_before)
