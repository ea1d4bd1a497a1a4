"""Roles: the key format, what each role may do, and who may name another tenant (X-Yutang-Tenant)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.auth import DEV_KEY_FILE, Ability, ApiKeys, KeyConfigError, Role, Scope, generate_dev_key
from tests.api.conftest import auth, event
from tests.api.roles import ALPHA, BETA, GAMMA, PLATFORM, ROLE_KEYS
from tests.api.roles import CALLERS as KEYS


def as_tenant(key: str, tenant: str) -> dict[str, str]:
    return {**auth(key), "X-Yutang-Tenant": tenant}


def test_todays_format_keeps_its_meaning_and_roles_join_it():
    keys = ApiKeys.parse(ROLE_KEYS)
    admin = keys.lookup(ALPHA)
    assert admin is not None and admin.role is Role.ADMIN and admin.scopes == {Scope.SCORE, Scope.EVENTS}
    assert {Ability.SCORE, Ability.EVENTS, Ability.LISTS, Ability.RULES} <= admin.abilities
    assert Ability.TENANTS not in admin.abilities
    marketer = keys.lookup(KEYS["marketer"])
    assert marketer is not None and marketer.abilities == {Ability.READ, Ability.RULES}
    score = keys.lookup(KEYS["score"])
    assert score is not None and score.role is None and score.abilities == {Ability.SCORE, Ability.READ}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("k" * 16 + ":t:admin+platform", "one role per key"),
        ("k" * 16 + ":t:root", "'root' is neither a role"),
        ("k" * 16 + ":t", r"key:tenant:role\+scope"),
    ],
)
def test_a_bad_key_entry_names_what_is_wrong(spec, message):
    with pytest.raises(KeyConfigError, match=message):
        ApiKeys.parse(spec)


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "wanted", "role"),
    [
        ("marketer", "POST", "/v1/lists/entries", {"entity": "device", "value": "d", "kind": "block", "reason": "r"},
         "lists", "marketer"),
        ("marketer", "GET", "/v1/audit", None, "audit", "marketer"),
        ("reviewer", "POST", "/v1/rules/reload", None, "rules", "reviewer"),
        ("score", "POST", "/v1/keys", {"role": "admin"}, "keys", "none"),
        ("admin", "GET", "/v1/tenants", None, "tenants", "admin"),
        ("marketer", "POST", "/v1/score", event(), "score", "marketer"),
    ],
)  # fmt: skip
async def test_403_names_the_permission_who_grants_it_and_the_keys_tenant_and_role(
    make_api, who, method, path, body, wanted, role
):
    async with make_api(api_keys=ROLE_KEYS) as api:
        r = await api.request(method, path, json=body, headers=auth(KEYS[who]))
    assert r.status_code == 403, r.text
    error = r.json()["error"]
    assert error["wanted"] == [wanted] and error["tenant"] == "alpha" and error["role"] == role
    assert f"lacks the '{wanted}' permission" in error["message"] and f"role {role}" in error["message"]
    assert error["granted_by"], "the body says which role or scope would do"


async def test_marketer_reloads_and_validates_its_rules_but_never_touches_lists_or_keys(make_api):
    async with make_api(api_keys=ROLE_KEYS) as api:
        key = KEYS["marketer"]
        assert (await api.post("/v1/rules/reload", headers=auth(key))).status_code == 200
        assert (await api.get("/v1/rules/files", headers=auth(key))).status_code == 200
        assert (await api.get("/v1/reports/offers", headers=auth(key))).status_code == 200
        assert (await api.get("/v1/keys", headers=auth(key))).status_code == 403


async def test_a_merchants_key_naming_another_tenant_is_403_whatever_its_role(make_api):
    async with make_api(api_keys=ROLE_KEYS) as api:
        for who, key in KEYS.items():
            if who == "platform":
                continue
            for method, path, body in (("GET", "/v1/rules", None), ("POST", "/v1/score", event())):
                r = await api.request(method, path, json=body, headers=as_tenant(key, "beta"))
                assert r.status_code == 403, (who, path, r.text)
                assert "only a platform key may name another tenant" in r.json()["error"]["message"]
        # naming its own tenant is no widening: allowed
        assert (await api.get("/v1/rules", headers=as_tenant(ALPHA, "alpha"))).status_code == 200


async def test_platform_acts_on_the_tenant_it_names_and_on_no_other(make_api):
    entry = {"entity": "device", "value": "dev-farm-77", "kind": "block", "reason": "platform found a farm"}
    async with make_api(api_keys=ROLE_KEYS) as api:
        r = await api.post("/v1/lists/entries", json=entry, headers=as_tenant(PLATFORM, "beta"))
        assert r.status_code == 201, r.text
        seen = {key: await api.get("/v1/lists/entries/device/dev-farm-77", headers=auth(key)) for key in (BETA, ALPHA)}
        assert [e["kind"] for e in seen[BETA].json()] == ["block"]
        assert seen[ALPHA].json() == [] and (await api.get(
            "/v1/lists/entries/device/dev-farm-77", headers=auth(GAMMA))).json() == []  # fmt: skip
        who = (await api.get("/v1/whoami", headers=as_tenant(PLATFORM, "beta"))).json()
        assert (who["tenant"], who["key_tenant"], who["role"]) == ("beta", "ops", "platform")
        unknown = await api.get("/v1/rules", headers=as_tenant(PLATFORM, "nobody"))
        assert unknown.status_code == 403 and "POST /v1/tenants" in unknown.json()["error"]["message"]
        bad = await api.get("/v1/rules", headers=as_tenant(PLATFORM, "a b"))
        assert bad.status_code == 403 and "X-Yutang-Tenant: 'a b' is not a tenant name" in bad.text
        made = await api.post("/v1/tenants", json={"tenant": "delta"}, headers=auth(PLATFORM))
        assert made.status_code == 201
        assert (await api.post("/v1/tenants", json={"tenant": "delta"}, headers=auth(PLATFORM))).status_code == 409
        assert (await api.get("/v1/rules", headers=as_tenant(PLATFORM, "delta"))).status_code == 200
        tenants = (await api.get("/v1/tenants", headers=auth(PLATFORM))).json()["tenants"]
        assert {"tenant": "delta", "source": "api"} in tenants and {"tenant": "beta", "source": "config"} in tenants


def test_yutang_worker_finds_the_development_key_serve_kept(tmp_path: Path) -> None:
    """``yutang worker`` started beside ``yutang serve`` (no keys configured) goes over the same tenant."""
    assert ApiKeys.load("", None, data_dir=tmp_path).tenants == frozenset()
    (tmp_path / DEV_KEY_FILE).write_text(generate_dev_key("shop1"))
    assert ApiKeys.load("", None, data_dir=tmp_path).tenants == {"shop1"}
    # configured keys win: the development key is only the fallback
    assert ApiKeys.load(ROLE_KEYS, None, data_dir=tmp_path).tenants == ApiKeys.parse(ROLE_KEYS).tenants
