"""Keys made through the API: shown once, listed without the key, revoked for good, per tenant."""

from __future__ import annotations

import asyncio

from tests.api.conftest import auth, event
from tests.api.roles import ALPHA, BETA, CALLERS, PLATFORM, ROLE_KEYS


async def test_an_admin_makes_a_key_sees_it_once_and_revokes_it(make_api, redis_client):
    async with make_api(api_keys=ROLE_KEYS) as api:
        made = await api.post("/v1/keys", json={"role": "marketer", "label": "spring campaign"}, headers=auth(ALPHA))
        assert made.status_code == 201, made.text
        key, key_id = made.json()["key"], made.json()["id"]
        assert made.json()["tenant"] == "alpha" and made.json()["author"].startswith("key:")
        assert (await api.post("/v1/rules/reload", headers=auth(key))).status_code == 200  # a marketer's key
        assert (await api.get("/v1/lists/entries", headers=auth(key))).status_code == 403
        listing = await api.get("/v1/keys", headers=auth(ALPHA))
        assert key not in listing.text and "key" not in listing.json()["keys"][-1]
        ours = {k["id"]: k for k in listing.json()["keys"]}
        assert ours[key_id]["role"] == "marketer" and ours[key_id]["source"] == "api" and ours[key_id]["created"]
        assert any(k["source"] == "config" and k["role"] == "admin" for k in ours.values())
        assert (await api.delete(f"/v1/keys/{key_id}", headers=auth(ALPHA))).json() == {"revoked": key_id}
        refused = await api.get("/v1/rules", headers=auth(key))
        assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
        assert (await api.delete(f"/v1/keys/{key_id}", headers=auth(ALPHA))).status_code == 404


async def test_a_made_score_key_scores_for_its_tenant_only(make_api, redis_client):
    async with make_api(api_keys=ROLE_KEYS) as api:
        key = (await api.post("/v1/keys", json={"scopes": ["score"]}, headers=auth(BETA))).json()["key"]
        assert (await api.post("/v1/score", json=event(), headers=auth(key))).status_code == 200
        other = await api.post("/v1/score", json=event(), headers={**auth(key), "X-Yutang-Tenant": "alpha"})
        assert other.status_code == 403


async def test_no_key_escapes_its_tenant_or_outranks_platform(make_api, redis_client):
    async with make_api(api_keys=ROLE_KEYS) as api:
        beta_key = (await api.post("/v1/keys", json={"role": "admin"}, headers=auth(BETA))).json()
        # alpha's admin can neither see nor revoke beta's key, by id or by naming beta
        assert beta_key["id"] not in (await api.get("/v1/keys", headers=auth(ALPHA))).text
        assert (await api.delete(f"/v1/keys/{beta_key['id']}", headers=auth(ALPHA))).status_code == 404
        named = await api.delete(f"/v1/keys/{beta_key['id']}", headers={**auth(ALPHA), "X-Yutang-Tenant": "beta"})
        assert named.status_code == 403
        # a forged key naming alpha but not made by anyone is just unknown
        forged = "ytk~alpha~" + beta_key["key"].rsplit("~", 1)[1]
        assert (await api.get("/v1/rules", headers=auth(forged))).status_code == 401
        # nobody mints platform keys through the API, not even platform
        for key in (ALPHA, PLATFORM):
            r = await api.post("/v1/keys", json={"role": "platform"}, headers={**auth(key), "X-Yutang-Tenant": "alpha"})
            assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "role"
        empty = await api.post("/v1/keys", json={}, headers=auth(ALPHA))
        assert empty.status_code == 422 and "role or at least one scope" in empty.text
        # platform makes and revokes keys for the tenant it names
        made = await api.post(
            "/v1/keys", json={"role": "reviewer"}, headers={**auth(PLATFORM), "X-Yutang-Tenant": "beta"}
        )
        assert made.status_code == 201 and made.json()["tenant"] == "beta"
        # configured keys are the bootstrap: not revocable here
        config_id = next(k["id"] for k in (await api.get("/v1/keys", headers=auth(ALPHA))).json()["keys"]
                         if k["source"] == "config" and k["role"] == "marketer")  # fmt: skip
        assert (await api.delete(f"/v1/keys/{config_id}", headers=auth(ALPHA))).status_code == 409
        assert (await api.get("/v1/rules", headers=auth(CALLERS["marketer"]))).status_code == 200


async def test_a_tenant_holds_at_most_max_keys_made_keys(make_api, redis_client):
    from api.keys.store import MAX_KEYS, KeyStore

    async with make_api(api_keys=ROLE_KEYS) as api:
        first = (await api.post("/v1/keys", json={"scopes": ["events"]}, headers=auth(ALPHA))).json()
        raw = await redis_client.hvals(KeyStore._hash("alpha"))
        await redis_client.hset(KeyStore._hash("alpha"), mapping={f"filler-{n}": raw[0] for n in range(MAX_KEYS - 1)})
        refused = await api.post("/v1/keys", json={"scopes": ["events"]}, headers=auth(ALPHA))
        assert refused.status_code == 409 and "revoke some first" in refused.json()["error"]["message"]
        assert (await api.delete(f"/v1/keys/{first['id']}", headers=auth(ALPHA))).status_code == 200
        assert (await api.post("/v1/keys", json={"scopes": ["events"]}, headers=auth(ALPHA))).status_code == 201
        assert (await api.post("/v1/keys", json={"scopes": ["events"]}, headers=auth(BETA))).status_code == 201


async def test_platform_onboards_a_tenant_and_its_first_admin(make_api, redis_client):
    async with make_api(api_keys=ROLE_KEYS) as api:
        assert (await api.post("/v1/tenants", json={"tenant": "studio7"}, headers=auth(PLATFORM))).status_code == 201
        named = {**auth(PLATFORM), "X-Yutang-Tenant": "studio7"}
        admin = (await api.post("/v1/keys", json={"role": "admin", "scopes": ["score"]}, headers=named)).json()
        assert admin["tenant"] == "studio7" and admin["key"].startswith("ytk~studio7~")
        who = (await api.get("/v1/whoami", headers=auth(admin["key"]))).json()
        assert (who["tenant"], who["role"], who["source"]) == ("studio7", "admin", "api")
        assert (await api.post("/v1/score", json=event(), headers=auth(admin["key"]))).status_code == 200
        trail = (await api.get("/v1/audit", headers=auth(admin["key"]))).json()["entries"]
        assert [(e["action"], e["role"]) for e in trail] == [
            ("keys.create", "platform"),
            ("tenants.create", "platform"),
        ]
        # its admin stays in studio7: naming the platform's tenant or another is refused
        for other in ("ops", "alpha"):
            r = await api.get("/v1/rules", headers={**auth(admin["key"]), "X-Yutang-Tenant": other})
            assert r.status_code == 403


async def test_a_tenant_created_through_the_api_gets_the_base_packs_block_list(make_api, redis_client):
    """A farm that moves to a merchant onboarded at run time is still refused by the seeded block list."""
    async with make_api(api_keys=ROLE_KEYS) as api:
        assert (await api.post("/v1/tenants", json={"tenant": "late7"}, headers=auth(PLATFORM))).status_code == 201
        named = {**auth(PLATFORM), "X-Yutang-Tenant": "late7"}
        key = (await api.post("/v1/keys", json={"scopes": ["score"]}, headers=named)).json()["key"]
        for _ in range(50):  # the maintenance loop passes every rules_poll_s (0.2 s here)
            scored = await api.post("/v1/score", json=event(device="seeded-farm-device"), headers=auth(key))
            if "blocked_device" in {r["rule"] for r in scored.json()["reasons"]}:
                break
            await asyncio.sleep(0.2)
        assert "blocked_device" in {r["rule"] for r in scored.json()["reasons"]}, scored.json()
        entries = (await api.get("/v1/lists/entries", headers=named)).json()["entries"]
        assert [(e["hint"], e["kind"], e["author"][:5]) for e in entries] == [("seeded-farm-device", "block", "seed:")]


async def test_racing_creates_never_take_a_tenant_past_max_keys(make_api, redis_client):
    """Red team, session 6: the count was read, then the key written; creates at once all passed the check."""
    from api.keys.store import MAX_KEYS, KeyStore

    async with make_api(api_keys=ROLE_KEYS) as api:
        await api.post("/v1/keys", json={"scopes": ["events"]}, headers=auth(ALPHA))
        raw = await redis_client.hvals(KeyStore._hash("alpha"))
        await redis_client.hset(KeyStore._hash("alpha"), mapping={f"filler-{n}": raw[0] for n in range(MAX_KEYS - 4)})
        answers = await asyncio.gather(
            *(api.post("/v1/keys", json={"scopes": ["events"]}, headers=auth(ALPHA)) for _ in range(12))
        )
        assert sorted(a.status_code for a in answers) == [201] * 3 + [409] * 9
        assert await redis_client.hlen(KeyStore._hash("alpha")) == MAX_KEYS
