"""A worker that answers late is not Redis that answered late: no scored event fails open for it.

Last session's round-trip timer was reverted because a tenant's event answered allow (fail open)
right after a reload under load: the time bound fired in the same loop pass as the replies'
arrival, on a worker that had been busy (compiling, starved by the box) for longer than
``YUTANG_REDIS_TIMEOUT``. These tests starve the ASGI app's loop on purpose while its Redis
answers at once, and reload a tenant's rules in the middle of traffic.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from engine.datastore.embedded import EmbeddedRedis, free_port
from tests.api.conftest import ALPHA, auth, event

LAYER = "rules:\n  - {id: device_farm, override: true, score: %d}\n"


async def _score_wave(api: Any, n: int) -> list[dict[str, Any]]:
    answers = await asyncio.gather(*(api.post("/v1/score", json=event("signup"), headers=auth()) for _ in range(n)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    return [a.json() for a in answers]


async def test_a_starved_worker_reads_the_replies_redis_already_sent(make_api: Any) -> None:
    async with make_api(redis_timeout_s=0.2, breaker_s=0.2) as api:
        await _score_wave(api, 2)  # connected, scripts loaded
        for _ in range(3):
            pending = asyncio.ensure_future(_score_wave(api, 12))
            for _ in range(40):  # the requests get under way and reach Redis
                await asyncio.sleep(0)
            time.sleep(0.5)  # the worker is busy for 2.5x the timeout; Redis is not
            answers = await pending
            degraded = [a["degraded_reason"] for a in answers if a["degraded"]]
            assert not degraded, degraded


async def test_a_reload_under_load_never_fails_an_event_open(make_api: Any) -> None:
    async with make_api(redis_timeout_s=0.3) as api:
        await _score_wave(api, 2)
        for score in (20, 10, 30):
            traffic = asyncio.gather(*(_score_wave(api, 10) for _ in range(3)))
            reload = await api.post("/v1/rules/reload", json={"files": {"a.yaml": LAYER % score}}, headers=auth(ALPHA))
            assert reload.status_code == 200, reload.text
            waves = await traffic
            degraded = [a["degraded_reason"] for wave in waves for a in wave if a["degraded"]]
            assert not degraded, degraded
            after = await _score_wave(api, 5)
            assert {a["ruleset_version"] for a in after} == {reload.json()["version"]}
            assert not any(a["degraded"] for a in after)


async def test_a_hung_redis_degrades_every_waiting_request_within_the_timeout_and_opens_the_breaker_once(
    make_api: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGSTOP: the socket stays open and nothing answers. One timer per round trip still bounds every request
    waiting on it, the breaker opens once (one WARNING), and after SIGCONT answers are whole again."""
    server = EmbeddedRedis(tmp_path / "hung-redis", port=free_port()).start()
    assert server.pid is not None
    try:
        async with make_api(redis_url=server.url, redis_timeout_s=0.3, breaker_s=0.2) as api:
            await _score_wave(api, 2)
            os.kill(server.pid, signal.SIGSTOP)
            began = time.monotonic()
            answers = await _score_wave(api, 16)
            waited = time.monotonic() - began
            assert all(a["degraded"] for a in answers), answers
            assert waited < 2.0, waited  # one bound (0.3 s) per round trip reached, not one per command
            lost = [r for r in caplog.records if r.getMessage().startswith("Redis lost")]
            assert len(lost) == 1, [r.getMessage() for r in lost]
            os.kill(server.pid, signal.SIGCONT)
            for _ in range(50):
                after = await _score_wave(api, 3)
                if not any(a["degraded"] for a in after):
                    break
                await asyncio.sleep(0.1)
            assert not any(a["degraded"] for a in after)
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.stop()
