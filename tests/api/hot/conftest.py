"""Two real 2-worker ``yutang serve`` on the small pack, each on a Redis of its own.

``raw`` answers ``POST /v1/score`` below the framework (the default); ``framework``
has it switched off (``YUTANG_HOT_ROUTE=0``), so FastAPI's route answers. The attack
tests run on both; the parity test sends both the same corpus and compares. Each
server's Redis is the test's own, so the outage test can stop it (and starts it again).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.datastore.embedded import EmbeddedRedis, free_port
from tests.api.conftest import PACK
from tests.api.serving import yutang_serve

PATHS = {"raw": "1", "framework": "0"}


@dataclass
class Server:
    name: str
    base: str
    log: Path
    redis: EmbeddedRedis


@pytest.fixture(scope="package")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    started: dict[str, Server] = {}
    stack = []
    try:
        for name, hot in PATHS.items():
            root = tmp_path_factory.mktemp(f"hot-{name}")
            redis = EmbeddedRedis(root / "redis", port=free_port()).start()
            env = {"REDIS_URL": redis.url, "YUTANG_HOT_ROUTE": hot, "YUTANG_CLAIM_WAIT_S": "0.5"}
            serving = yutang_serve(root, rules=PACK, workers=2, env=env)
            base, _ = serving.__enter__()
            stack.append((serving, redis))
            started[name] = Server(name, base, root / "serve.log", redis)
        yield started
    finally:
        for serving, redis in reversed(stack):
            serving.__exit__(None, None, None)
            redis.stop()


@pytest.fixture(params=list(PATHS))
def server(request: pytest.FixtureRequest, servers: dict[str, Server]) -> Server:
    return servers[request.param]
