"""Redis stopped mid-run: answers follow each event type's fail mode, then recover by themselves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.datastore.embedded import EmbeddedRedis, free_port
from tests.api.conftest import auth, event

SHIPPED = Path(__file__).resolve().parents[2] / "rules"


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


@pytest.mark.parametrize("backend", ["python", "durable"])
async def test_an_outage_still_refuses_what_the_event_alone_gives_away(make_api, own_redis, backend):
    """Red team, session 6: with Redis away every signup was allowed (fail open) and every claim reviewed
    (closed), an emulator running a script or a self-referral included: a farm that waits for (or causes) an
    outage passed. The rules that read only the event still decide now, never below the fail mode."""
    farm = {"device": "dv-farm", "attributes": {"emulator": True, "automation": True}}
    shipped = {"rules_path": SHIPPED, "backend": backend}
    async with make_api(redis_url=own_redis.url, redis_timeout_s=0.3, breaker_s=0.2, **shipped) as api:
        await asyncio.to_thread(own_redis.stop)
        scripted = (await api.post("/v1/score", json=event("signup", **farm), headers=auth())).json()
        plain = (await api.post("/v1/score", json=event("signup", device="dv-mum"), headers=auth())).json()
        selfish = (await api.post("/v1/score", json=event("referral", customer="c-x", referrer="c-x"),
                                  headers=auth())).json()  # fmt: skip
        claim = (await api.post("/v1/score", json=event("red_packet_claim", **farm), headers=auth())).json()
    assert (scripted["decision"], scripted["degraded"], scripted["offers"]) == ("deny", True, [])
    assert {r["rule"] for r in scripted["reasons"]} == {"emulator", "automation_script"}
    assert scripted["score"] == 100 and "fail open" in scripted["degraded_reason"]
    assert (plain["decision"], plain["reasons"], plain["score"]) == ("allow", [], 0)  # nothing else fires
    assert selfish["decision"] == "deny" and "self_referral" in {r["rule"] for r in selfish["reasons"]}
    assert claim["decision"] == "deny" and "fail closed" in claim["degraded_reason"]
