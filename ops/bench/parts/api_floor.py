"""The floor for ops/bench/api.py: the least a scoring endpoint can do.

A FastAPI endpoint that validates the same ``Event`` model and makes one pipelined
Redis round trip (record a counter, read it back); no auth, rules or offers.
Run by the benchmark as ``uvicorn --factory ops.bench.parts.api_floor:create_floor_app``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from redis.asyncio import Redis

from engine.events import Event


def create_floor_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.redis = Redis.from_url(os.environ["REDIS_URL"], max_connections=512)
        yield
        await app.state.redis.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/floor")
    async def floor(event: Event, request: Request) -> dict[str, Any]:
        key = f"floor:{{{event.customer}}}:n"
        async with request.app.state.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, 600)
            count, _ = await pipe.execute()
        return {"event_id": event.event_id, "decision": "allow", "count": count}

    return app
