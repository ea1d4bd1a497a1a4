"""What the sign-up clock (rules/risk/device_farms.yaml, 1415 / 1416) costs one /v1/score: no round trip, three calls.

``platform.signup_cadence_1h`` is a distinct stream of the platform's entity hash (one per tenant
and platform), read and written inside the event's own feature script. One Android sign-up is
scored by the shipped pack and by the same pack without the two cadence features and their
rules, counted on the engine's client (round trips, commands sent) and on the server (``INFO
commandstats``: every ``redis.call`` a script makes is counted there).
"""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from tests.api.conftest import MakeApi
from tests.api.feature_cost import RULES, assert_one_hash_in_the_same_script, cut, pack_without
from tests.api.test_line_model_cost import _android_sign_up


def _without_cadence(tmp_path: Path) -> Path:
    """The shipped pack minus the cadence features, rules 1415-1417, their pack case and 1417's scenario."""
    features = ("  platform.signup_cadence_1h:", "  campaign.claim_cadence_1h:", "  platform.claim_cadence_1h:")
    pack = pack_without(tmp_path, features, 3)
    risk = pack / "risk" / "device_farms.yaml"
    cut(risk, "  - id: script_clock_signups\n", "  - id: bought_account_takeover\n")
    cut(risk, "  - name: a scheduler's clock across cloud-phone images, and honest sign-ups at random\n", "  - name: ")
    scenario = "  - name: a cloud-phone rack's newcomer claims keep its scheduler's clock per platform"
    cut(pack / "scenarios" / "device_farms.yaml", scenario)  # 1417's scenario is the file's last
    return pack


async def test_the_sign_up_clock_costs_no_round_trip_and_three_calls(
    make_api: MakeApi, redis_client: Redis, tmp_path: Path
) -> None:
    # the platform's hash: one HMGET, one HSET and its PEXPIRE, in the same script call
    assert_one_hash_in_the_same_script(
        await _android_sign_up(make_api, redis_client, RULES),
        await _android_sign_up(make_api, redis_client, _without_cadence(tmp_path)),
    )
