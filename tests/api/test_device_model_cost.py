"""What the device model (rules/risk/device_farms.yaml) costs one /v1/score: no round trip, two Redis calls.

The model's entity hash is read and written inside the event's own feature script, beside the
device's and the customer's: counted on the engine's client (round trips, commands sent) and on
the server (``INFO commandstats``: every ``redis.call`` a script makes is counted there).
"""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from tests.api.conftest import MakeApi, event
from tests.api.test_round_trips import cost

RULES = Path(__file__).resolve().parents[2] / "rules"
ANDROID = "Mozilla/5.0 (Linux; Android 14; PHM110 Build/UKQ1.230924.001; wv) MicroMessenger/8.0.47"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) MicroMessenger/8.0.50"
OTHER_ANDROID = "Mozilla/5.0 (Linux; Android 13; V2219A Build/TP1A.220624.014; wv) MicroMessenger/8.0.47"


async def _calls(redis_client: Redis) -> int:
    stats = await redis_client.info("commandstats")
    return sum(
        int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_info")
    )


async def test_a_sign_up_naming_its_model_costs_no_round_trip_and_two_calls(
    make_api: MakeApi, redis_client: Redis
) -> None:
    async with make_api(rules_path=RULES) as api:
        # warm the composite scripts and both platforms' hashes (platform.signup_cadence_1h): another model
        for n, warm in enumerate((IPHONE, OTHER_ANDROID)):
            await cost(api, event("signup", customer=f"warm{n}", device=f"w{n}", attributes={"user_agent": warm}))
        spent = {}
        for label, agent in (("iphone", IPHONE), ("android", ANDROID)):
            before = await _calls(redis_client)
            answer, trips, commands = await cost(
                api, event("signup", customer=f"new-{label}", device=f"dv-{label}", attributes={"user_agent": agent})
            )
            assert answer.status_code == 200 and not answer.json()["degraded"]
            assert (trips, commands) == (2, 2)  # claim + features, then the writes: the model adds no round trip
            spent[label] = await _calls(redis_client) - before
        # the model's hash: one HMGET and one HSET (and its first PEXPIRE), in the same script call
        assert 2 <= spent["android"] - spent["iphone"] <= 3, spent
