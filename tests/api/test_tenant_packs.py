"""One deployment, three merchants, each on its own pack: the issue's breaches over real HTTP, 2 workers.

alpha uploads packs through the API; beta has no pack of its own and runs the
platform's base; gamma keeps its pack in ``rules/tenants/gamma/`` (the git workflow).
Every key is a tenant's admin: the attacker holds one tenant's keys and the whole body.
Each answer is read from several fresh connections, so both workers are asked.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import PACK
from tests.api.serving import serve_on

ALPHA = "tenant-alpha-admin-0123456"
BETA = "tenant-beta-admin-01234567"
GAMMA = "tenant-gamma-admin-0123456"
KEYS3 = f"{ALPHA}:alpha:score+events+admin,{BETA}:beta:score+events+admin,{GAMMA}:gamma:score+events+admin"
ENV = {"YUTANG_API_KEYS": KEYS3, "YUTANG_WEBHOOK_TENANT_HOSTS": "alpha=127.0.0.1", "YUTANG_RULES_POLL_S": "0.3"}
GAMMA_LAYER = "rules:\n  - {id: device_farm, override: true, score: 30}\n"
_n = itertools.count()


def base_pack(root: Path) -> Path:
    """The small test pack as the platform's base, with gamma's directory pack beside it."""
    rules = root / "rules"
    shutil.copytree(PACK, rules)
    (rules / "tenants" / "gamma").mkdir(parents=True)
    (rules / "tenants" / "gamma" / "shop.yaml").write_text(GAMMA_LAYER, encoding="utf-8")
    return rules


@pytest.fixture(scope="module", params=["embedded", pytest.param("cluster", marks=pytest.mark.cluster)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp(f"tenants-{request.param}")
    with serve_on(request, root, rules=base_pack(root), env=ENV) as base:
        yield base


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def signup(**fields: Any) -> dict[str, Any]:
    n = next(_n)
    body = {"event_id": f"tp-{n}", "type": "signup", "customer": f"parent-{n}", "device": f"dv-{n}",
            "timestamp": datetime.now(UTC).isoformat()}  # fmt: skip
    return {**body, **fields}


def score(base: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{base}/v1/score", json=body, headers=auth(key), timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def rules(base: str, key: str) -> dict[str, Any]:
    answer = httpx.get(f"{base}/v1/rules", headers=auth(key), timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def upload(base: str, key: str, files: dict[str, str]) -> dict[str, Any]:
    answer = httpx.post(f"{base}/v1/rules/reload", json={"files": files}, headers=auth(key), timeout=60)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def everywhere(base: str, key: str, version: str, *, asks: int = 6, within_s: float = 15.0) -> None:
    """Wait until ``asks`` fresh connections in a row all see ``version`` for the key's tenant."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if all(rules(base, key)["version"] == version for _ in range(asks)):
            return
        time.sleep(0.2)
    pytest.fail(f"{version} did not reach every worker within {within_s} s")


def test_each_tenant_runs_its_own_pack_and_a_directory_pack_is_layered_on_the_base(server: str) -> None:
    seen = {name: rules(server, key) for name, key in (("alpha", ALPHA), ("beta", BETA), ("gamma", GAMMA))}
    assert [seen[t]["tenant"] for t in seen] == ["alpha", "beta", "gamma"]
    assert seen["beta"]["own_pack"] is False and seen["gamma"]["own_pack"] is True
    farm = {t: next(r["score"] for r in seen[t]["rules"] if r["id"] == "device_farm") for t in seen}
    assert farm == {"alpha": 80, "beta": 80, "gamma": 30}
    for key in (BETA, GAMMA):  # three accounts on one device: the base denies (80), gamma reviews (30 < 40: allow)
        for _ in range(3):
            last = score(server, key, signup(device=f"farm-{key[7:11]}"))
        assert last["decision"] == ("deny" if key == BETA else "allow"), last


def test_a_tenants_reload_never_changes_another_tenants_decisions_or_version(server: str) -> None:
    """The issue's first breach: alpha's extra rule denied beta's signups."""
    before = {key: rules(server, key)["version"] for key in (BETA, GAMMA)}
    layer = {
        "alpha.yaml": "rules:\n  - id: spring_deny\n    code: 9101\n    on: [signup]\n"
        "    when: 'event.campaign == \"spring\"'\n    score: 100\n    decision: deny\n"
        "    reason: {zh: 春季活动拒绝, en: spring campaign denied}\n"
    }
    reloaded = upload(server, ALPHA, layer)
    assert reloaded["tenant"] == "alpha" and reloaded["changed"] is True
    everywhere(server, ALPHA, reloaded["version"])
    for _ in range(8):
        assert score(server, ALPHA, signup(campaign="spring"))["decision"] == "deny"
        for key in (BETA, GAMMA):
            answer = score(server, key, signup(campaign="spring"))
            assert answer["decision"] == "allow" and answer["ruleset_version"] == before[key], answer
    for key in (BETA, GAMMA):
        assert {rules(server, key)["version"] for _ in range(8)} == {before[key]}


def test_a_seed_list_in_an_upload_writes_only_into_the_uploaders_lists(server: str) -> None:
    """The second breach: alpha's seed_lists naming beta's customer blocked that customer at beta."""
    victim = f"beta-regular-{next(_n)}"
    assert score(server, BETA, signup(customer=victim))["decision"] == "allow"
    before = rules(server, ALPHA)["version"]
    seeded = upload(server, ALPHA, {"seed.yaml": (
        f"seed_lists:\n  - {{entity: customer, value: {victim}, kind: block, reason: named by alpha}}\n"
    )})  # fmt: skip
    everywhere(server, ALPHA, seeded["version"])
    deadline = time.monotonic() + 10
    while score(server, ALPHA, signup(customer=victim))["decision"] != "deny":  # seeded in alpha, on every worker
        assert time.monotonic() < deadline, "alpha's own seed never reached alpha's lists"
        time.sleep(0.2)
    for _ in range(8):
        answer = score(server, BETA, signup(customer=victim))
        assert answer["decision"] == "allow" and not answer["reasons"], answer
    entries = httpx.get(f"{server}/v1/lists/entries/customer/{victim}", headers=auth(BETA), timeout=10)
    assert entries.status_code == 200 and entries.json() == []
    alpha_entries = httpx.get(f"{server}/v1/lists/entries/customer/{victim}", headers=auth(ALPHA), timeout=10)
    assert [e["kind"] for e in alpha_entries.json()] == ["block"]
    back = httpx.post(f"{server}/v1/rules/rollback", json={"version": before}, headers=auth(ALPHA), timeout=30)
    assert back.status_code == 200 and back.json()["tenant"] == "alpha"
    assert score(server, BETA, signup(customer=victim))["decision"] == "allow"


def test_a_tenants_webhook_is_checked_against_its_own_hosts_and_fires_only_on_its_events(server: str) -> None:
    """The third breach: a webhook in alpha's pack carried beta's customers to alpha's URL."""
    hook = {
        "hook.yaml": """
webhooks:
  shop_crm: {url: "http://127.0.0.1:9/hooks", secret_env: YUTANG_WEBHOOK_SECRET_SHOP}
journeys:
  - id: paid
    start: new
    stages: {new: {label: 新客}, paid: {label: 已付款}}
    transitions:
      - {from: [new], on: [order_paid], to: paid, actions: [{webhook: shop_crm}]}
"""
    }
    refused = httpx.post(f"{server}/v1/rules/reload", json={"files": hook}, headers=auth(BETA), timeout=60)
    assert refused.status_code == 422 and "WEBHOOK_HOST_REFUSED" in refused.text  # loopback is only alpha's
    everywhere(server, ALPHA, upload(server, ALPHA, hook)["version"])
    for key, customer in ((BETA, "beta-payer"), (GAMMA, "gamma-payer"), (ALPHA, "alpha-payer")):
        body = {"event_id": f"op-{next(_n)}", "type": "order_paid", "customer": customer, "amount": 99,
                "timestamp": datetime.now(UTC).isoformat()}  # fmt: skip
        answer = httpx.post(f"{server}/v1/events", json=body, headers=auth(key), timeout=30)
        assert answer.status_code == 200, answer.text
        actions = [a for j in answer.json().get("journeys", []) for a in j["actions"]]
        assert actions == ([{"action": "webhook", "target": "shop_crm", "result": "enqueued"}] if key == ALPHA else [])


def test_versions_say_when_who_and_from_where_and_a_diff_names_what_changed(server: str) -> None:
    started = time.time()
    first = httpx.get(f"{server}/v1/rules/versions", headers=auth(GAMMA), timeout=10).json()
    assert first["tenant"] == "gamma" and first["versions"][-1]["source"] == "startup"
    v1 = first["current"]
    layer = GAMMA_LAYER.replace("score: 30", "score: 60") + "lists:\n  gamma_campaigns: [summer, winter]\n"
    v2 = upload(server, GAMMA, {"shop.yaml": layer})["version"]
    everywhere(server, GAMMA, v2)  # either worker may answer the listing: both run v2 first
    kept = httpx.get(f"{server}/v1/rules/versions", headers=auth(GAMMA), timeout=10).json()
    newest = kept["versions"][-1]
    assert newest["version"] == v2 and newest["running"] is True
    assert newest["author"] == key_id(GAMMA) and newest["source"] == "api" and newest["previous"] == v1
    assert started - 1 <= newest["at"] <= time.time() + 1 and newest["counts"]["rules"] == 6
    diff = httpx.get(f"{server}/v1/rules/versions/{v1}/diff/{v2}", headers=auth(GAMMA), timeout=10)
    assert diff.status_code == 200, diff.text
    body = diff.json()
    assert body["rules"]["added"] == [] and body["rules"]["removed"] == []
    [changed] = body["rules"]["changed"]
    assert changed["id"] == "device_farm" and "score: 30" in changed["before"] and "score: 60" in changed["after"]
    assert body["lists"] == {"gamma_campaigns": {"added": ["summer", "winter"], "removed": []}}
    unknown = httpx.get(f"{server}/v1/rules/versions/{v1}/diff/abcdef012345", headers=auth(GAMMA), timeout=10)
    assert unknown.status_code == 404 and v2 in unknown.text
    alphas = httpx.get(f"{server}/v1/rules/versions/{v1}/diff/{v2}", headers=auth(ALPHA), timeout=10)
    assert alphas.status_code == 404, "gamma's versions are not alpha's to read"
    bad = httpx.get(f"{server}/v1/rules/versions/{v1}/diff/not-a-version", headers=auth(GAMMA), timeout=10)
    assert bad.status_code == 422
    beta_before = rules(server, BETA)["version"]
    back = httpx.post(f"{server}/v1/rules/rollback", json={"version": v1}, headers=auth(GAMMA), timeout=30)
    assert back.status_code == 200
    everywhere(server, GAMMA, v1)
    assert rules(server, BETA)["version"] == beta_before


async def test_an_upload_and_a_rollback_survive_a_restart(make_api: Any, redis_client: Any, tmp_path: Path) -> None:
    """Which pack wins at start-up: a tenant's upload or rollback, over its directory (docs/rollout.md).

    Two apps on one real Redis stand for the deployment before and after a restart.
    """
    settings = {"rules_path": base_pack(tmp_path), "api_keys": KEYS3}
    layer = "rules:\n  - {id: device_farm, override: true, score: %d}\n"
    async with make_api(**settings) as api:
        base_version = (await api.get("/v1/rules", headers=auth(BETA))).json()["version"]
        gamma = (await api.get("/v1/rules", headers=auth(GAMMA))).json()["version"]
        v1 = (await api.post("/v1/rules/reload", json={"files": {"a.yaml": layer % 20}}, headers=auth(ALPHA))).json()
        v2 = (await api.post("/v1/rules/reload", json={"files": {"a.yaml": layer % 10}}, headers=auth(ALPHA))).json()
        back = await api.post("/v1/rules/rollback", json={"version": v1["version"]}, headers=auth(ALPHA))
        assert back.status_code == 200
    async with make_api(**settings) as api:
        seen = {key: (await api.get("/v1/rules", headers=auth(key))).json()["version"] for key in (ALPHA, BETA, GAMMA)}
        assert seen == {ALPHA: v1["version"], BETA: base_version, GAMMA: gamma}  # the rollback, not the newest upload
        kept = (await api.get("/v1/rules/versions", headers=auth(ALPHA))).json()["versions"]
        assert {v2["version"], v1["version"]} <= {v["version"] for v in kept} and kept[-1]["source"] == "rollback"
        assert kept[-1]["author"] == key_id(ALPHA)
        held_only_in_redis = [v for v in kept if not v["in_memory"]]
        assert held_only_in_redis, "this app compiled only what runs; the rest comes from the records"
        assert all(v["rules"] == 6 and v["shadow_rules"] == ["many_claims_shadow"] for v in kept)  # the console's rows
        again = await api.post("/v1/rules/rollback", json={"version": v2["version"]}, headers=auth(ALPHA))
        assert again.status_code == 200, again.text  # compiled again from its record: this app never held it
        farm = next(
            r for r in (await api.get("/v1/rules", headers=auth(ALPHA))).json()["rules"] if r["id"] == "device_farm"
        )
        assert farm["score"] == 10
        reread = (await api.post("/v1/rules/reload", headers=auth(ALPHA))).json()  # back to the directory
        assert reread["version"] == base_version and reread["previous"] == v2["version"]


async def test_a_directory_edit_reloads_only_its_tenant(make_api: Any, redis_client: Any, tmp_path: Path) -> None:
    rules_dir = base_pack(tmp_path)
    async with make_api(rules_path=rules_dir, api_keys=KEYS3) as api:
        before = {
            key: (await api.get("/v1/rules", headers=auth(key))).json()["version"] for key in (ALPHA, BETA, GAMMA)
        }
        (rules_dir / "tenants" / "gamma" / "shop.yaml").write_text(GAMMA_LAYER.replace("30", "35"), encoding="utf-8")
        watcher = api.app.state.runtime.watcher  # type: ignore[attr-defined]
        assert await watcher.poll() is True
        after = {key: (await api.get("/v1/rules", headers=auth(key))).json()["version"] for key in (ALPHA, BETA, GAMMA)}
        assert after[ALPHA] == before[ALPHA] and after[BETA] == before[BETA] and after[GAMMA] != before[GAMMA]
        kept = (await api.get("/v1/rules/versions", headers=auth(GAMMA))).json()["versions"]
        assert kept[-1]["source"] == "watcher" and kept[-1]["author"] is None
        (rules_dir / "tenants" / "gamma" / "shop.yaml").write_text("rules:\n  - {id: nope, override: true}\n")
        assert await watcher.poll() is False
        refused = (await api.get("/v1/rules/versions", headers=auth(GAMMA))).json()["watch"]["refused"]
        assert refused["diagnostics"][0]["code"] == "OVERRIDE_MISSING"
        assert (await api.get("/v1/rules", headers=auth(GAMMA))).json()["version"] == after[GAMMA]
