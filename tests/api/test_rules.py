"""Rule administration: what runs, validation, atomic reloads (also racing traffic), propagation."""

from __future__ import annotations

import asyncio

from engine.pack.loader import read_pack_files
from tests.api.conftest import ALPHA_SCORE, PACK, auth, event


def pack_files(virtual_score: int = 45) -> dict[str, str]:
    files = read_pack_files(PACK)
    return {name: text.replace("score: 45", f"score: {virtual_score}") for name, text in files.items()}


async def test_get_rules_shows_version_counts_and_shadow_rules(api):
    r = await api.get("/v1/rules", headers=auth(ALPHA_SCORE))
    body = r.json()
    assert body["name"] == "api-test" and body["backend"] == "python"
    assert body["counts"]["rules"] == 6 and body["counts"]["shadow"] == 1 and body["counts"]["offers"] == 4
    assert body["shadow_rules"] == ["many_claims_shadow"]
    assert body["kept_versions"] == [body["version"]]


async def test_validate_reports_every_diagnostic(api):
    good = (await api.post("/v1/rules/validate", json={"files": pack_files()}, headers=auth())).json()
    assert good["ok"] is True and good["version"] and good["diagnostics"] == []
    broken = {
        name: text.replace("device.accounts_24h >= 3", "device.acounts_24h >= 3").replace(
            "tiers: [occasional]", "tiers: [ocasional]"
        )
        for name, text in pack_files().items()
    }
    bad = (await api.post("/v1/rules/validate", json={"files": broken}, headers=auth())).json()
    assert bad["ok"] is False and bad["version"] is None
    codes = {d["code"] for d in bad["diagnostics"]}
    assert "UNKNOWN_NAME" in codes and len(bad["diagnostics"]) >= 2
    assert any("did you mean 'device.accounts_24h'" in d["message"] and d["line"] > 0 for d in bad["diagnostics"])
    r = await api.post("/v1/rules/validate", json={"files": {}}, headers=auth())
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "files"


async def test_broken_reload_is_refused_and_the_running_set_stays(api):
    before = (await api.get("/v1/rules", headers=auth())).json()["version"]
    broken = {
        name: text.replace("when: device.accounts_24h >= 3", "when: device.accounts_24h >=")
        for name, text in pack_files().items()
    }
    r = await api.post("/v1/rules/reload", json={"files": broken}, headers=auth())
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "rule_pack_invalid" and "PARSE_ERROR" in {d["code"] for d in error["diagnostics"]}
    assert (await api.get("/v1/rules", headers=auth())).json()["version"] == before
    scored = (await api.post("/v1/score", json=event(), headers=auth())).json()
    assert scored["ruleset_version"] == before
    metrics = (await api.get("/metrics")).text
    assert 'yutang_rule_reloads_total{result="failed"} 1.0' in metrics


async def test_reload_from_the_directory_is_unchanged(api):
    body = (await api.post("/v1/rules/reload", headers=auth())).json()
    assert body["changed"] is False and body["version"] == body["previous"]


async def test_reload_racing_traffic_never_mixes_two_sets(api):
    versions = {}
    for score in (45, 10):
        versions[score] = (
            await api.post("/v1/rules/validate", json={"files": pack_files(score)}, headers=auth())
        ).json()["version"]
    expected = {versions[45]: (45, "review"), versions[10]: (10, "allow")}
    stop = asyncio.Event()

    async def reloader():
        flip = 0
        while not stop.is_set():
            flip ^= 1
            r = await api.post("/v1/rules/reload", json={"files": pack_files(10 if flip else 45)}, headers=auth())
            assert r.status_code == 200, r.text

    async def traffic():
        seen = []
        for _ in range(40):
            bodies = await asyncio.gather(
                *(api.post("/v1/score", json=event("signup", phone="17000000000"), headers=auth()) for _ in range(5))
            )
            seen += [b.json() for b in bodies]
        stop.set()
        return seen

    seen, _ = await asyncio.gather(traffic(), reloader())
    for body in seen:
        assert (body["score"], body["decision"]) == expected[body["ruleset_version"]], body
    assert {b["ruleset_version"] for b in seen} <= set(expected)


async def test_a_reload_reaches_every_worker(make_api, redis_client):
    async with make_api() as first, make_api() as second:
        r = await first.post("/v1/rules/reload", json={"files": pack_files(10)}, headers=auth())
        version = r.json()["version"]
        for _ in range(50):
            if (await second.get("/v1/rules", headers=auth())).json()["version"] == version:
                break
            await asyncio.sleep(0.1)
        assert (await second.get("/v1/rules", headers=auth())).json()["version"] == version
        scored = (await second.post("/v1/score", json=event("signup", phone="17000000000"), headers=auth())).json()
        assert scored["ruleset_version"] == version and scored["score"] == 10
