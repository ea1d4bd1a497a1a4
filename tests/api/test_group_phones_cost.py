"""What a phone's and a flat's group-buys (1833-1835) cost one /v1/score: no round trip, no call added.

``device.groups_30d`` and ``address.groups_30d`` are distinct streams of the device's and the
address's entity hashes, which a group-buy join already reads and writes (``device.group_joins_24h``,
``address.accounts_30d``) inside the event's own feature script. One join is scored by the shipped
pack and by the same pack without the two features and the three rules, counted on the engine's
client (round trips, commands sent) and on the server (``INFO commandstats``).
"""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from tests.api.conftest import MakeApi, event
from tests.api.feature_cost import RULES, Cost, command_calls, cut, pack_without
from tests.api.test_round_trips import cost


def _without_group_phones(tmp_path: Path) -> Path:
    """The shipped pack minus the two features, rules 1833-1835, their pack case and scenarios."""
    pack = pack_without(tmp_path, ("  device.groups_30d:", "  address.groups_30d:"), 2)
    risk = pack / "risk" / "group_buy.yaml"
    cut(risk, "  - id: group_buy_phone_in_many_groups\n", "\ntests:\n")  # the file's last rules
    cut(risk, "  - name: a phone or a flat behind group after group, whoever the leader (session 14)\n")
    scenarios = pack / "scenarios" / "groupbuy_farms.yaml"
    text = scenarios.read_text(encoding="utf-8")
    scenarios.write_text(text[: text.index("\n  # Session 14 (1833/1834)")] + "\n", encoding="utf-8")
    return pack


async def _join(make_api: MakeApi, redis_client: Redis, rules: Path) -> Cost:
    await redis_client.flushdb()  # each pack starts from an empty store: first writes alike
    async with make_api(rules_path=rules) as api:
        for n in range(2):  # warm the composite scripts
            await cost(api, event("group_buy_join", customer=f"warm{n}", device=f"w{n}", group=f"gb-w{n}",
                                  campaign="group_buy_69", address=f"海淀区学院路{n + 1}号"))  # fmt: skip
        before = await command_calls(redis_client)
        answer, trips, commands = await cost(
            api, event("group_buy_join", device="dv-gpc", group="gb-gpc", campaign="group_buy_69",
                       address="朝阳区望京西园3区5号楼1单元101"),
        )  # fmt: skip
        assert answer.status_code == 200 and not answer.json()["degraded"]
        after = await command_calls(redis_client)
        return (trips, commands), {name: after[name] - before.get(name, 0) for name in after}


async def test_a_phones_and_a_flats_group_buys_cost_no_round_trip_and_no_call(
    make_api: MakeApi, redis_client: Redis, tmp_path: Path
) -> None:
    sent, spent = await _join(make_api, redis_client, RULES)
    sent_before, spent_before = await _join(make_api, redis_client, _without_group_phones(tmp_path))
    assert sent == sent_before, (sent, sent_before)  # no round trip, no command added
    for name in ("hmget", "hset", "pexpire"):  # the streams ride in hashes the join already touches
        assert spent.get(name, 0) == spent_before.get(name, 0), (name, spent, spent_before)
