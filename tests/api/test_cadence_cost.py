"""What the sign-up clock (rules/risk/device_farms.yaml, 1415 / 1416) costs one /v1/score: no round trip, three calls.

``platform.signup_cadence_1h`` is a distinct stream of the platform's entity hash (one per tenant
and platform), read and written inside the event's own feature script. One Android sign-up is
scored by the shipped pack and by the same pack without the two cadence features and their
rules, counted on the engine's client (round trips, commands sent) and on the server (``INFO
commandstats``: every ``redis.call`` a script makes is counted there).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from redis.asyncio import Redis

from tests.api.conftest import MakeApi
from tests.api.test_line_model_cost import _android_sign_up

RULES = Path(__file__).resolve().parents[2] / "rules"
FEATURES = ("  platform.signup_cadence_1h:", "  campaign.claim_cadence_1h:", "  platform.claim_cadence_1h:")
SCENARIO = "  - name: a cloud-phone rack's newcomer claims keep its scheduler's clock per platform"
CASE = "  - name: a scheduler's clock across cloud-phone images, and honest sign-ups at random\n"


def _without_cadence(tmp_path: Path) -> Path:
    """The shipped pack minus the cadence features, rules 1415-1417, their pack case and 1417's scenario."""
    pack = tmp_path / "rules"
    shutil.copytree(RULES, pack)
    features = pack / "features.yaml"
    lines = features.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(FEATURES)]
    assert len(kept) == len(lines) - 3
    features.write_text("".join(kept), encoding="utf-8")
    risk = pack / "risk" / "device_farms.yaml"
    text = risk.read_text(encoding="utf-8")
    start = text.index("  - id: script_clock_signups\n")
    end = text.index("  - id: bought_account_takeover\n")
    text = text[:start] + text[end:]
    case = text.index(CASE)
    text = text[:case] + text[text.index("  - name: ", case + 1) :]
    risk.write_text(text, encoding="utf-8")
    scenarios = pack / "scenarios" / "device_farms.yaml"  # 1417's scenario is the file's last
    text = scenarios.read_text(encoding="utf-8")
    scenarios.write_text(text[: text.index(SCENARIO)], encoding="utf-8")
    return pack


async def test_the_sign_up_clock_costs_no_round_trip_and_three_calls(
    make_api: MakeApi, redis_client: Redis, tmp_path: Path
) -> None:
    sent, spent = await _android_sign_up(make_api, redis_client, RULES)
    sent_before, spent_before = await _android_sign_up(make_api, redis_client, _without_cadence(tmp_path))
    assert sent == sent_before and sent[0] == 2, (sent, sent_before)  # no round trip, no command added
    # the platform's hash: one HMGET, one HSET and its PEXPIRE, in the same script call
    for name in ("hmget", "hset", "pexpire"):
        assert spent[name] - spent_before[name] == 1, (name, spent, spent_before)
