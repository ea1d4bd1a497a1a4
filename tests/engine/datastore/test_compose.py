"""Composite scripts answer what their parts answer alone, stop atomically at a gate, and keep a failure to its part."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from engine.datastore.batches import Writes
from engine.datastore.compose import EXPECT, SET_FILLED, SKIPPED, Stopped, compose, run_gated, split
from engine.datastore.connection import RedisSettings, client_from_url
from engine.datastore.embedded import EmbeddedRedis
from engine.datastore.scripts import Call, Script, run_batch
from engine.errors import StoreUnavailable

SHAPES = Script.inline(
    "shapes",
    "redis.call('RPUSH', KEYS[1], ARGV[1]) "
    "return {redis.call('LLEN', KEYS[1]), ARGV[1], false, {ARGV[2], 7}, redis.status_reply('FINE')}",
)
NOTHING = Script.inline("nothing", "redis.call('SET', KEYS[1], ARGV[1])")
FAILS = Script.inline("fails", "redis.call('SET', KEYS[1], 'x') return redis.call('INCR', KEYS[1])")
REFUSES = Script.inline("refuses", "return redis.error_reply('REFUSED ' .. ARGV[1])")
GATE = Script.inline("gate", "if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return false end return 'taken'")


@pytest.fixture
async def engine(redis_server: EmbeddedRedis, tenant: str) -> AsyncIterator[object]:
    client = client_from_url(redis_server.url, RedisSettings())
    yield client
    await client.aclose()


def calls(tenant: str, tag: str) -> list[Call]:
    key = f"yt:{{{tenant}:{tag}}}"
    return [
        Call(SHAPES, [f"{key}:l"], ["a", "b"]),
        Call(NOTHING, [f"{key}:s"], ["v"]),
        Call(SHAPES, [f"{key}:l"], ["c", "d"]),
    ]


async def test_a_composite_answers_exactly_what_its_calls_answer_one_by_one(engine: object, tenant: str) -> None:
    alone = await run_batch(engine, calls(tenant, "alone"))
    together = split((await run_batch(engine, [compose(calls(tenant, "together"))]))[0], 3)
    assert together == alone
    assert alone[0] == [1, b"a", None, [b"b", 7], b"FINE"] and alone[1] is None and alone[2][0] == 2


async def test_a_gate_that_answers_stops_every_call_after_it_inside_the_script(engine: object, tenant: str) -> None:
    gate = Call(GATE, [f"yt:{{{tenant}:g}}"], ["mine"])
    first = await run_gated(engine, gate, calls(tenant, "g"))
    assert first[0][0] == 1
    with pytest.raises(Stopped) as stopped:
        await run_gated(engine, gate, calls(tenant, "g"))
    assert stopped.value.reply == b"taken"
    assert await engine.llen(f"yt:{{{tenant}:g}}:l") == 2  # type: ignore[attr-defined]  # the stopped run added nothing
    replies = split((await run_batch(engine, [compose([gate, *calls(tenant, "g")], gate=True)]))[0], 4)
    assert replies[0] == b"taken" and replies[1:] == [SKIPPED] * 3


async def test_a_failing_call_gets_its_error_and_the_calls_after_it_still_run(engine: object, tenant: str) -> None:
    key = f"yt:{{{tenant}:f}}"
    parts = [Call(FAILS, [f"{key}:n"], []), Call(REFUSES, [f"{key}:r"], ["now"]), Call(NOTHING, [f"{key}:s"], ["ran"])]
    replies = split((await run_batch(engine, [compose(parts)]))[0], 3)
    assert isinstance(replies[0], Exception) and "not an integer" in str(replies[0])
    assert isinstance(replies[1], Exception) and "REFUSED now" in str(replies[1])
    assert replies[2] is None and await engine.get(f"{key}:s") == b"ran"  # type: ignore[attr-defined]
    with pytest.raises(StoreUnavailable, match="fails"):  # the writes' runner still raises on a part's error
        await Writes(engine).send([*parts, ("SET", f"{key}:plain", "1")])
    assert await engine.get(f"{key}:plain") == b"1"  # type: ignore[attr-defined]


async def test_a_gate_on_earlier_replies_and_a_value_filled_from_them(engine: object, tenant: str) -> None:
    """EXPECT stops the writes unless the replies before it match; SET_FILLED writes their fields into a value."""
    key = f"yt:{{{tenant}:x}}"
    answer = Script.inline("answer", "return ARGV[1]")
    for reply, stops in (("granted|41||1", False), ("granted||x|1", False), ("exhausted|0||1", True)):
        parts = [
            Call(answer, [f"{key}:a"], [reply]),
            Call(EXPECT, [], [1, "^granted|%-?%d*|[x]?|1$"]),
            Call(SET_FILLED, [f"{key}:v"], [60_000, b'{"left":', "1:2", b"}"]),
        ]
        await engine.delete(f"{key}:v")  # type: ignore[attr-defined]
        replies = split((await run_batch(engine, [compose(parts, gate=2)]))[0], 3)
        assert (replies[1] is not None) is stops and (replies[2] is SKIPPED) is stops
        kept = await engine.get(f"{key}:v")  # type: ignore[attr-defined]
        assert kept == (None if stops else b'{"left":' + (reply.split("|")[1] or "null").encode() + b"}")
