"""The audit trail: every kind of change lands in the tenant's log, filtered, paged, exported, trimmed."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from datetime import UTC, datetime

from tests.api.conftest import PACK, auth
from tests.api.roles import ALPHA, BETA, CALLERS, GAMMA, PLATFORM, ROLE_KEYS

RULE = """
  - id: night_signup
    code: 1900
    on: [signup]
    when: "event.hour < 5"
    score: 10
    reason: {zh: 深夜注册, en: signup at night}
"""


def _pack_with_rule() -> dict[str, str]:
    text = (PACK / "pack.yaml").read_text(encoding="utf-8")
    return {"pack.yaml": text.replace("\nrules:\n", "\nrules:\n" + RULE, 1)}


async def trail(api, key=ALPHA, **params):
    r = await api.get("/v1/audit", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


async def test_every_kind_of_change_is_in_the_tenants_trail(make_api, redis_client):
    async with make_api(api_keys=ROLE_KEYS) as api:
        first = (await api.get("/v1/rules", headers=auth(ALPHA))).json()["version"]
        reload = await api.post(
            "/v1/rules/reload", json={"files": _pack_with_rule()}, headers=auth(CALLERS["marketer"])
        )
        assert reload.status_code == 200, reload.text
        second = reload.json()["version"]
        assert (await api.post("/v1/rules/rollback", json={"version": first}, headers=auth(ALPHA))).status_code == 200
        entry = {"entity": "phone", "value": "13812345678", "kind": "block", "reason": "virtual number"}
        assert (await api.post("/v1/lists/entries", json=entry, headers=auth(ALPHA))).status_code == 201
        removed = await api.delete("/v1/lists/entries/phone/13812345678", params={"kind": "block"}, headers=auth(ALPHA))
        assert removed.status_code == 200
        device = {"device": "counter-tablet-1", "label": "front desk"}
        assert (await api.post("/v1/devices", json=device, headers=auth(ALPHA))).status_code == 201
        assert (await api.delete("/v1/devices/counter-tablet-1", headers=auth(ALPHA))).status_code == 204
        made = (await api.post("/v1/keys", json={"role": "reviewer"}, headers=auth(ALPHA))).json()
        assert (await api.delete(f"/v1/keys/{made['id']}", headers=auth(ALPHA))).status_code == 200

        body = await trail(api)
        entries = body["entries"]
        assert [e["action"] for e in entries] == [
            "keys.revoke", "keys.create", "lists.remove", "lists.add", "lists.remove", "lists.add", "rules.rollback",
            "rules.reload",
        ]  # fmt: skip
        stores = [e["target"] for e in entries if e["target"].startswith("device:store:")]
        assert stores == ["device:store:counter-tablet-1"] * 2  # the store-device register is a list
        by = {e["action"]: e for e in reversed(entries) if not e["target"].startswith("device:store:")}
        reloaded = by["rules.reload"]
        assert (reloaded["before"], reloaded["after"], reloaded["role"]) == (first, second, "marketer")
        assert reloaded["diff"]["rules"] == {"added": ["night_signup"], "removed": [], "changed": []}
        assert reloaded["source"] == "api" and reloaded["target"] == "upload"
        rolled = by["rules.rollback"]
        assert (rolled["before"], rolled["after"]) == (second, first)
        assert rolled["diff"]["rules"]["removed"] == ["night_signup"]
        assert by["lists.add"]["diff"] == {"list_entries": {"added": ["phone:block:138****5678"]}}
        assert by["lists.remove"]["diff"] == {"list_entries": {"removed": ["phone:block:138****5678"]}}
        assert by["keys.create"]["target"] == made["id"] and by["keys.create"]["details"]["role"] == "reviewer"
        text = json.dumps(body)
        assert "13812345678" not in text and made["key"] not in text and ALPHA not in text  # no key, no phone
        assert all(e["actor"] and e["at"] for e in entries)
        # other tenants saw nothing of it
        assert (await trail(api, BETA))["entries"] == [] and (await trail(api, GAMMA))["entries"] == []


async def test_filters_cursor_paging_and_the_jsonl_export(make_api, redis_client):
    async with make_api(api_keys=ROLE_KEYS) as api:
        for n in range(5):
            entry = {"entity": "device", "value": f"dev-{n}", "kind": "watch", "reason": "r"}
            assert (await api.post("/v1/lists/entries", json=entry, headers=auth(ALPHA))).status_code == 201
        await asyncio.sleep(0.01)  # the stream's ids are Redis' milliseconds: keep 'middle' clear of both sides
        middle = time.time()
        await asyncio.sleep(0.01)
        assert (await api.post("/v1/rules/reload", headers=auth(ALPHA))).status_code == 200
        page = await trail(api, limit=2, action="lists")
        assert [e["target"] for e in page["entries"]] == ["device:watch:dev-4", "device:watch:dev-3"]
        rest = await trail(api, limit=10, action="lists", cursor=page["next_cursor"])
        assert [e["target"][-1] for e in rest["entries"]] == ["2", "1", "0"] and rest["next_cursor"] is None
        assert [e["action"] for e in (await trail(api, action="rules.reload"))["entries"]] == ["rules.reload"]
        since = datetime.fromtimestamp(middle, UTC).isoformat()
        assert [e["action"] for e in (await trail(api, since=since))["entries"]] == ["rules.reload"]
        until = [e["action"] for e in (await trail(api, until=since))["entries"]]
        assert until == ["lists.add"] * 5
        actor = (await trail(api))["entries"][0]["actor"]
        assert len((await trail(api, actor=actor))["entries"]) == 6
        assert (await trail(api, actor="0123456789ab"))["entries"] == []
        oldest = {"entries": [], "next_cursor": None}
        assert {k: (await trail(api, cursor="0-0"))[k] for k in oldest} == oldest  # the fuzzer's 503: no id before 0-0
        last = (await trail(api, action="lists"))["entries"][-1]["id"]
        assert (await trail(api, action="lists", cursor=last))["entries"] == []
        exported = await api.get("/v1/audit", params={"format": "jsonl", "action": "lists"}, headers=auth(ALPHA))
        assert exported.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in exported.text.splitlines()]
        assert len(lines) == 5 and {e["action"] for e in lines} == {"lists.add"}
        for params in ({"cursor": "abc"}, {"since": "1900-01-01T00:00:00Z"}, {"limit": 0}, {"action": "DROP TABLE"}):
            bad = await api.get("/v1/audit", params=params, headers=auth(ALPHA))
            assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == next(iter(params))


async def test_platform_changes_land_in_the_named_tenants_trail_as_platform(make_api, redis_client):
    async with make_api(api_keys=ROLE_KEYS) as api:
        named = {**auth(PLATFORM), "X-Yutang-Tenant": "beta"}
        entry = {"entity": "device", "value": "dev-platform", "kind": "block", "reason": "known farm"}
        assert (await api.post("/v1/lists/entries", json=entry, headers=named)).status_code == 201
        assert (await api.post("/v1/tenants", json={"tenant": "epsilon"}, headers=auth(PLATFORM))).status_code == 201
        beta = (await trail(api, BETA))["entries"]
        assert [(e["action"], e["role"], e["actor_tenant"]) for e in beta] == [("lists.add", "platform", "ops")]
        assert (await trail(api, ALPHA))["entries"] == []
        created = (await api.get("/v1/audit", headers={**auth(PLATFORM), "X-Yutang-Tenant": "epsilon"})).json()
        assert [e["action"] for e in created["entries"]] == ["tenants.create"]


async def test_a_reload_by_the_file_watcher_says_so(make_api, redis_client, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(PACK, rules)
    async with make_api(api_keys=ROLE_KEYS, rules_path=rules, watch_rules=True) as api:
        (rules / "pack.yaml").write_text(_pack_with_rule()["pack.yaml"], encoding="utf-8")
        for _ in range(100):
            entries = (await trail(api))["entries"]
            if entries:
                break
            await asyncio.sleep(0.1)
        assert [(e["action"], e["source"], e["role"]) for e in entries] == [("rules.reload", "file_watcher", "none")]
        assert entries[0]["diff"]["rules"]["added"] == ["night_signup"] and entries[0]["actor"] == "system"


async def test_entries_older_than_the_retention_are_trimmed(make_api, redis_client):
    async with make_api(api_keys=ROLE_KEYS, audit_retention_days=1.5 / 86400) as api:
        entry = {"entity": "device", "value": "dev-old", "kind": "watch", "reason": "r"}
        assert (await api.post("/v1/lists/entries", json=entry, headers=auth(ALPHA))).status_code == 201
        await asyncio.sleep(2)
        entry["value"] = "dev-new"
        assert (await api.post("/v1/lists/entries", json=entry, headers=auth(ALPHA))).status_code == 201
        assert [e["target"] for e in (await trail(api))["entries"]] == ["device:watch:dev-new"]
