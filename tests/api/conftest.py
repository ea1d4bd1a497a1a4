"""The real ASGI app on the session's real Redis, driven through httpx with its lifespan run.

``api`` is an httpx client for an app serving the small test pack (tests/api/packs/small)
with API keys for two tenants; ``make_api`` builds one with other settings (another
pack, another Redis, several apps sharing one Redis as workers would).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from api.app import create_app
from api.settings import Settings
from engine.datastore.embedded import EmbeddedRedis

PACK = Path(__file__).parent / "packs" / "small"
ALPHA = "alpha-admin-key-0123456789"  # tenant alpha, every scope
ALPHA_SCORE = "alpha-score-key-0123456789"  # tenant alpha, score only
ALPHA_EVENTS = "alpha-events-key-012345678"  # tenant alpha, events only
BETA = "beta-admin-key-01234567890"  # tenant beta, every scope
KEYS = ",".join(
    [
        f"{ALPHA}:alpha:score+events+admin",
        f"{ALPHA_SCORE}:alpha:score",
        f"{ALPHA_EVENTS}:alpha:events",
        f"{BETA}:beta:score+events+admin",
    ]
)
SECRET = "test-secret-0123456789abcdef"
_ids = itertools.count()


def auth(key: str = ALPHA) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def event(type_: str = "signup", **fields: Any) -> dict[str, Any]:
    """An event body with a fresh event id, at the current time (pass ``timestamp`` to pin it)."""
    body: dict[str, Any] = {"event_id": f"e{next(_ids)}-{type_}", "type": type_, "customer": f"c{next(_ids)}"}
    body["timestamp"] = datetime.now(UTC).isoformat()
    body.update(fields)
    return body


def settings_for(redis_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "rules_path": PACK,
        "backend": "python",
        "redis_url": redis_url,
        "data_dir": tmp_path,
        "secret": SECRET,
        "api_keys": KEYS,
        "rules_poll_s": 0.2,
        "breaker_s": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


MakeApi = Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def make_api(redis_server: EmbeddedRedis, tmp_path: Path) -> MakeApi:
    """Apps on the session's Redis, emptied first: a rule set another test published there (an upload wins
    over the rules directory at start-up) or its counters must not leak into this test."""
    with SyncRedis.from_url(redis_server.url) as client:
        client.flushdb()

    @contextlib.asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings_for(overrides.pop("redis_url", redis_server.url), tmp_path, **overrides))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://yutang.test", timeout=30) as client:
                client.app = app  # type: ignore[attr-defined]
                yield client

    return make


@pytest.fixture
async def api(make_api: MakeApi, redis_client: Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with make_api() as client:
        yield client
