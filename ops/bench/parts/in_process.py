"""The real app in this process: ``create_app`` and its lifespan, driven through ASGI one event at a time.

What the Redis benches share (``redis_score``, ``redis_instructions``, ``plan_lua``): the shipped
settings but for the bench's own key, secret and Redis, no rules watcher, and every answer checked
(a 4xx or 5xx stops the bench instead of measuring an error path).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from api.app import create_app
from api.settings import Settings

KEY = "bench-score-key-0123456789ab"
SECRET = "bench-secret-0123456789"
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


@dataclass(frozen=True)
class InProcessApp:
    """The running app and an ASGI client to it."""

    app: FastAPI
    client: httpx.AsyncClient

    async def post(self, body: bytes) -> None:
        """Score one event body; raise on an answer that is not 2xx."""
        (await self.client.post("/v1/score", content=body, headers=HEADERS)).raise_for_status()


@asynccontextmanager
async def in_process_app(rules: str, redis_url: str, data: Path, **settings: Any) -> AsyncIterator[InProcessApp]:
    """Start the app on these rules and Redis (``settings`` overrides more), stop it on leaving."""
    config = Settings(rules_path=Path(rules), redis_url=redis_url, data_dir=data, secret=SECRET,
                      api_keys=f"{KEY}:bench:score", watch_rules=False, **settings)  # fmt: skip
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield InProcessApp(app, client)
