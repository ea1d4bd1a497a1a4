"""Writes: plain commands folded into one script call per slot leave Redis as the commands would."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.crc import key_slot

from engine.datastore.batches import Command, Writes


def commands(tenant: str) -> list[Command]:
    """A /v1/score's writes: the answer kept for retries, the recent decisions, index sets."""
    answer = f"yt:{{{tenant}:res:e1}}"
    decisions = f"yt:{{{tenant}:cus:c1}}:decisions"
    held = f"yt:{{{tenant}:held}}"
    return [
        ("SET", answer, '{"decision":"allow","text":"新客礼"}', "NX", "PX", 60_000),
        ("SET", answer, "second answer loses", "NX", "PX", 60_000),
        ("LPUSH", decisions, "d1"),
        ("LPUSH", decisions, "d2"),
        ("LPUSH", decisions, "d3"),
        ("LTRIM", decisions, 0, 1),
        ("EXPIRE", decisions, 3600),
        ("SADD", held, "offer_a", "offer_b"),
    ]


async def state(client: Any, tenant: str) -> dict[str, Any]:
    answer = f"yt:{{{tenant}:res:e1}}"
    decisions = f"yt:{{{tenant}:cus:c1}}:decisions"
    return {
        "answer": await client.get(answer),
        "answer_ttl_set": 0 < await client.pttl(answer) <= 60_000,
        "decisions": await client.lrange(decisions, 0, -1),
        "decisions_ttl_set": 0 < await client.ttl(decisions) <= 3600,
        "held": sorted(await client.smembers(f"yt:{{{tenant}:held}}")),
    }


EXPECTED = {
    "answer": '{"decision":"allow","text":"新客礼"}'.encode(),
    "answer_ttl_set": True,
    "decisions": [b"d3", b"d2"],
    "decisions_ttl_set": True,
    "held": [b"offer_a", b"offer_b"],
}


async def test_folded_writes_match_the_plain_commands(redis_client: Redis, tenant: str) -> None:
    await Writes(redis_client).send(commands(tenant))
    assert await state(redis_client, tenant) == EXPECTED
    plain = f"{tenant}p"
    for command in commands(plain):
        await redis_client.execute_command(*command)
    assert await state(redis_client, plain) == EXPECTED


@pytest.mark.cluster
async def test_folded_writes_on_a_cluster_go_one_call_per_slot(redis_cluster_client: RedisCluster) -> None:
    tenant = "writes"  # fixed: its three keys hash to three different slots
    assert len({key_slot(str(c[1]).encode()) for c in commands(tenant)}) == 3
    await Writes(redis_cluster_client).send(commands(tenant))
    assert await state(redis_cluster_client, tenant) == EXPECTED
