"""What one /v1/score costs in round trips and commands on one server, and that a stopped claim records nothing.

Counted on the engine's own client (engine/datastore/coalescing.py counts its writes and the
commands in them) while the shipped pack scores events one at a time through the real app:
the claim and the features are one script, the writes after the decision another; an offer
with a budget adds its reservation. A retry or a reused event id is answered from the claim
alone, inside the same script call, and leaves the whole dataset as it was (``DEBUG DIGEST``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from tests.api.conftest import ALPHA, MakeApi, auth, event

RULES = Path(__file__).resolve().parents[2] / "rules"


async def cost(api: httpx.AsyncClient, body: dict[str, Any]) -> tuple[httpx.Response, int, int]:
    """The answer to ``body``, and the round trips and commands the engine's client sent for it."""
    client = api.app.state.runtime.services.client  # type: ignore[attr-defined]
    trips, commands = client.round_trips, client.commands_sent
    answer = await api.post("/v1/score", json=body, headers=auth(ALPHA))
    return answer, client.round_trips - trips, client.commands_sent - commands


async def test_a_scored_event_is_two_round_trips_of_one_script_each(make_api: MakeApi) -> None:
    async with make_api(rules_path=RULES) as api:
        for n in range(2):  # the first of each shape loads its composite scripts (NOSCRIPT, then EVAL)
            answer, trips, commands = await cost(api, event("coupon_claim", customer=f"plain{n}", device=f"d{n}"))
        assert answer.status_code == 200 and not answer.json()["degraded"]
        assert (trips, commands) == (2, 2)  # claim + features; the writes, the STEP and the dashboard's counters
        for n in range(2):
            answer, trips, commands = await cost(api, event("signup", customer=f"new{n}", device=f"s{n}"))
        offers = answer.json()["offers"]
        assert [(o["offer"], o["status"]) for o in offers] == [("trial_99", "held")] and offers[0]["remaining"] > 0
        assert (trips, commands) == (2, 2)  # the trial's reservation goes first in the writes' script


async def test_a_reservation_that_does_not_grant_stops_the_writes_and_the_answer_is_kept_as_sent(
    make_api: MakeApi, redis_client: Redis
) -> None:
    """The writes after the decision ride the reservation only when it grants; a refusal stops them in the script."""
    async with make_api(rules_path=RULES) as api:
        first = event("signup", customer="twice", device="tw-1")
        granted, trips, _ = await cost(api, first)
        assert [o["offer"] for o in granted.json()["offers"]] == ["trial_99"]
        again = event("signup", customer="twice", device="tw-2")  # a second sign-up: the trial is once per customer
        refused, trips, _ = await cost(api, again)
        assert "trial_99" not in [o["offer"] for o in refused.json()["offers"]]
        assert {"offer": "trial_99", "why": "customer_cap"} in refused.json()["withheld"]
        assert trips == 3  # the reservation's script stopped before any write; the writes in a round trip of their own
        for body, answer in ((first, granted), (again, refused)):  # each kept exactly as sent (units left filled in)
            replayed, trips, _ = await cost(api, body)
            assert (replayed.content, replayed.headers["Idempotent-Replayed"], trips) == (answer.content, "true", 1)
        grants = await api.get("/v1/customers/twice", headers=auth(ALPHA))
        assert grants.status_code == 200 and grants.text.count("trial_99/") == 1  # one hold, recorded once


async def test_a_retry_and_a_reused_id_are_one_round_trip_and_change_nothing(
    make_api: MakeApi, redis_client: Redis
) -> None:
    async with make_api(rules_path=RULES) as api:
        first = event("signup", customer="mum1", device="dv-1", phone="13812345678")
        answered, _, _ = await cost(api, first)
        await api.app.state.runtime.services.areas.drain()  # type: ignore[attr-defined]  # the region, written behind
        before = await redis_client.execute_command("DEBUG", "DIGEST")
        again, trips, commands = await cost(api, first)
        assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (
            200, answered.content, "true"
        )  # fmt: skip
        assert answered.json()["offers"][0]["remaining"] > 0  # kept with the units left the reservation answered
        assert (trips, commands) == (1, 1)  # the claim answered inside the feature script's call: nothing recorded
        reused, trips, commands = await cost(api, {**first, "customer": "stranger", "device": "dv-2"})
        assert reused.status_code == 409 and {f["field"] for f in reused.json()["error"]["fields"]} == {
            "customer",
            "device",
        }
        assert (trips, commands) == (1, 1)
        assert await redis_client.execute_command("DEBUG", "DIGEST") == before  # not one key or value changed
