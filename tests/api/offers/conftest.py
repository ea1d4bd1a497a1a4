"""An app serving the offers-in-depth pack (tests/api/packs/offers) on the session's Redis."""

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
