"""Smoke test with the shipped pack (rules/) on the default backend: it loads, seeds, scores."""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings
from tests.api.conftest import auth, event

RULES = Path(__file__).resolve().parents[2] / "rules"


async def test_shipped_pack_scores_through_the_api(make_api, redis_client):
    backend = Settings.from_env().backend
    async with make_api(rules_path=RULES, backend=backend) as api:
        rules = (await api.get("/v1/rules", headers=auth())).json()
        assert rules["name"] == "tongqu-studio" and rules["counts"]["rules"] > 50
        clean = (
            await api.post("/v1/score", json=event("signup", device="new-phone-1", phone="13912345678"), headers=auth())
        ).json()
        assert clean["decision"] == "allow" and clean["tier"] == "occasional"
        blocked = (await api.post("/v1/score", json=event("signup", device="emu-farm-0001"), headers=auth())).json()
        assert blocked["decision"] == "deny" and blocked["reasons"]
        view = (await api.get("/v1/customers/vip_wangmama", headers=auth())).json()
        assert view["lists"][0]["kind"] == "allow"
