"""Redis stopped mid-run: answers follow each event type's fail mode, then recover by themselves."""

from __future__ import annotations

import asyncio

import pytest

from engine.datastore.embedded import EmbeddedRedis, free_port
from tests.api.conftest import auth, event


@pytest.fixture
def own_redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "outage-redis", port=free_port()).start()
    yield server
    server.stop()


async def test_outage_degrades_per_fail_mode_and_recovers(make_api, own_redis):
    async with make_api(redis_url=own_redis.url, redis_timeout_s=0.3, breaker_s=0.2) as api:
        normal = (await api.post("/v1/score", json=event("signup"), headers=auth())).json()
        assert normal["degraded"] is False and normal["offers"]

        await asyncio.to_thread(own_redis.stop)
        signup = (await api.post("/v1/score", json=event("signup"), headers=auth())).json()
        claim = (await api.post("/v1/score", json=event("red_packet_claim"), headers=auth())).json()
        assert (signup["decision"], signup["degraded"], signup["offers"]) == ("allow", True, [])
        assert signup["degraded_reason"].startswith("fail open")
        assert (claim["decision"], claim["degraded"], claim["offers"]) == ("review", True, [])
        assert claim["degraded_reason"].startswith("fail closed")
        assert (await api.get("/readyz")).status_code == 503
        outcome = await api.post("/v1/events", json=event("order_paid", amount=1), headers=auth())
        assert outcome.status_code == 503 and outcome.json()["error"]["code"] == "store_unavailable"
        metrics = (await api.get("/metrics")).text
        assert (
            'yutang_degraded_responses_total{event_type="red_packet_claim",fail_mode="closed",stage="features"}'
            in metrics
        )
        assert "yutang_redis_errors_total" in metrics

        await asyncio.to_thread(own_redis.start)
        for _ in range(50):
            body = (await api.post("/v1/score", json=event("signup"), headers=auth())).json()
            if not body["degraded"]:
                break
            await asyncio.sleep(0.1)
        assert body["degraded"] is False and body["offers"][0]["remaining"] == 3  # the count survived (AOF)
        assert (await api.get("/readyz")).status_code == 200
