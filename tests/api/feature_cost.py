"""What one feature costs one /v1/score: the shipped pack against a copy without it, counted on Redis.

A per-feature cost test copies the pack, drops the feature's lines from features.yaml and cuts its
rule, pack case and scenarios out of their files, then scores one sign-up on each pack from an
empty store: on the engine's client (round trips, commands sent) and on the server (``INFO
commandstats``: every ``redis.call`` a script makes is counted there).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from tests.api.conftest import MakeApi, event
from tests.api.test_round_trips import cost

RULES = Path(__file__).resolve().parents[2] / "rules"
Sent = tuple[int, int]  # round trips, commands sent
Cost = tuple[Sent, dict[str, int]]  # and the server's calls per command


def pack_without(tmp_path: Path, features: tuple[str, ...], count: int) -> Path:
    """A copy of the shipped pack whose features.yaml lacks the ``count`` lines starting with ``features``."""
    pack = tmp_path / "rules"
    shutil.copytree(RULES, pack)
    path = pack / "features.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(features)]
    assert len(kept) == len(lines) - count
    path.write_text("".join(kept), encoding="utf-8")
    return pack


def cut(path: Path, start: str, end: str | None = None) -> None:
    """Cut ``path`` from ``start`` up to the next ``end`` after it (kept), or to the file's end."""
    text = path.read_text(encoding="utf-8")
    first = text.index(start)
    last = len(text) if end is None else text.index(end, first + 1)
    path.write_text(text[:first] + text[last:], encoding="utf-8")


async def command_calls(redis_client: Redis) -> dict[str, int]:
    """The server's calls per command so far (``INFO commandstats``)."""
    stats = await redis_client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def sign_up_cost(
    make_api: MakeApi, redis_client: Redis, rules: Path, *, warm: list[dict[str, Any]], ip: str, user_agent: str
) -> Cost:
    """Score ``warm``, then one sign-up from this ip and agent: what it sent and the calls it made."""
    await redis_client.flushdb()  # each pack starts from an empty store: first writes alike
    async with make_api(rules_path=rules) as api:
        for body in warm:  # warm the composite scripts
            await cost(api, body)
        before = await command_calls(redis_client)
        scored = event("signup", device=f"dv-{rules.parent.name}", ip=ip, attributes={"user_agent": user_agent})
        answer, trips, commands = await cost(api, scored)
        assert answer.status_code == 200 and not answer.json()["degraded"]
        after = await command_calls(redis_client)
        return (trips, commands), {name: after[name] - before.get(name, 0) for name in after}


def assert_one_hash_in_the_same_script(
    shipped: tuple[Sent, dict[str, int]], without: tuple[Sent, dict[str, int]]
) -> None:
    """No round trip and no command added; one HMGET, one HSET and its PEXPIRE more inside the script call."""
    (sent, spent), (sent_before, spent_before) = shipped, without
    assert sent == sent_before and sent[0] == 2, (sent, sent_before)
    for name in ("hmget", "hset", "pexpire"):
        assert spent[name] - spent_before[name] == 1, (name, spent, spent_before)
