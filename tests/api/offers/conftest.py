"""An app serving the offers-in-depth pack (tests/api/packs/offers) on the session's Redis.

``timed_offers_api`` takes event times as sent (``trust_event_time``, as a simulation
through the HTTP API would): for tests that place events at chosen times of day or
hours in the past to see holds lapse and deadlines pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from tests.api.conftest import MakeApi

OFFERS_PACK = Path(__file__).parent.parent / "packs" / "offers"


@pytest.fixture
async def offers_api(make_api: MakeApi, redis_client: Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with make_api(rules_path=OFFERS_PACK) as client:
        yield client


@pytest.fixture
async def timed_offers_api(make_api: MakeApi, redis_client: Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with make_api(rules_path=OFFERS_PACK, trust_event_time=True) as client:
        yield client
