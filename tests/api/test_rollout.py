"""Safe rollout over HTTP: kept versions, rollback on every worker, the watched directory, racing traffic."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from tests.api.conftest import ALPHA_SCORE, PACK, auth, event
from tests.api.test_rules import pack_files

VIRTUAL = {"phone": "17000000000"}


async def version_of(client) -> str:
    return (await client.get("/v1/rules", headers=auth())).json()["version"]


async def eventually(check, *, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    assert await check()


async def test_rollback_brings_back_an_earlier_version_and_its_scores(api):
    original = await version_of(api)
    lowered = (await api.post("/v1/rules/reload", json={"files": pack_files(10)}, headers=auth())).json()["version"]
    kept = (await api.get("/v1/rules/versions", headers=auth(ALPHA_SCORE))).json()
    assert [v["version"] for v in kept["versions"]] == [original, lowered] and kept["current"] == lowered
    assert [v["running"] for v in kept["versions"]] == [False, True]

    r = await api.post("/v1/rules/rollback", json={"version": original}, headers=auth())
    assert r.status_code == 200
    assert r.json() == {"tenant": "alpha", "version": original, "previous": lowered, "changed": True}
    scored = (await api.post("/v1/score", json=event("signup", **VIRTUAL), headers=auth())).json()
    assert scored["ruleset_version"] == original and scored["score"] == 45
    assert (await api.get("/v1/rules/versions", headers=auth())).json()["current"] == original
    assert 'yutang_rule_reloads_total{result="rollback"} 1.0' in (await api.get("/metrics")).text


async def test_rollback_to_an_unknown_version_is_refused_and_needs_admin(api):
    before = await version_of(api)
    r = await api.post("/v1/rules/rollback", json={"version": "deadbeef"}, headers=auth())
    assert r.status_code == 404 and r.json()["error"]["kept"] == [before]
    r = await api.post("/v1/rules/rollback", json={"version": before}, headers=auth(ALPHA_SCORE))
    assert r.status_code == 403
    assert await version_of(api) == before


async def test_a_rollback_reaches_every_worker(make_api, redis_client):
    async with make_api() as first, make_api() as second:
        original = await version_of(first)
        lowered = (await first.post("/v1/rules/reload", json={"files": pack_files(10)}, headers=auth())).json()
        await eventually(lambda: _is(second, lowered["version"]))
        await first.post("/v1/rules/rollback", json={"version": original}, headers=auth())
        await eventually(lambda: _is(second, original))
        scored = (await second.post("/v1/score", json=event("signup", **VIRTUAL), headers=auth())).json()
        assert scored["ruleset_version"] == original and scored["score"] == 45
        # a worker that never ran the version it is told to run compiles it from the published files
        async with make_api() as third:
            await first.post("/v1/rules/rollback", json={"version": lowered["version"]}, headers=auth())
            await eventually(lambda: _is(third, lowered["version"]))


async def _is(client, version: str) -> bool:
    return await version_of(client) == version


async def test_editing_the_watched_directory_reloads_and_a_broken_edit_is_refused(make_api, redis_client, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(PACK, rules)
    pack = rules / "pack.yaml"
    async with make_api(rules_path=rules, watch_rules=True) as api:
        original = await version_of(api)
        pack.write_text(pack.read_text().replace("score: 45", "score: 12"))
        await eventually(lambda: _changed(api, original))
        scored = (await api.post("/v1/score", json=event("signup", **VIRTUAL), headers=auth())).json()
        assert scored["score"] == 12
        edited = scored["ruleset_version"]

        pack.write_text(pack.read_text().replace("when: device.accounts_24h >= 3", "when: device.acounts_24h >= 3"))

        async def refused() -> bool:
            return (await api.get("/v1/rules/versions", headers=auth())).json()["watch"]["refused"] is not None

        await eventually(refused)
        body = (await api.get("/v1/rules/versions", headers=auth())).json()
        diagnostic = body["watch"]["refused"]["diagnostics"][0]
        assert diagnostic["file"].endswith("pack.yaml") and diagnostic["line"] > 0
        assert "did you mean 'device.accounts_24h'" in diagnostic["message"]
        assert body["current"] == edited  # the running set stayed
        scored = (await api.post("/v1/score", json=event("signup", **VIRTUAL), headers=auth())).json()
        assert scored["ruleset_version"] == edited and scored["score"] == 12


async def _changed(client, version: str) -> bool:
    return await version_of(client) != version


@pytest.mark.parametrize("backend", ["python", "durable"])
async def test_reloads_and_rollbacks_racing_traffic_give_one_consistent_version(make_api, redis_client, backend):
    """Many scores while two workers reload and roll back: each answer is one whole set."""
    async with make_api(backend=backend) as first, make_api(backend=backend) as second:
        versions = {}
        for score in (45, 10, 33):
            r = await first.post("/v1/rules/validate", json={"files": pack_files(score)}, headers=auth())
            versions[r.json()["version"]] = score
        stop = asyncio.Event()
        current: set[str] = {await version_of(first)}

        async def operator() -> int:
            swaps = 0
            for _ in range(2):  # two rounds of swaps, however slow the box: traffic runs until they end
                for score in (10, 33, 45):
                    r = await first.post("/v1/rules/reload", json={"files": pack_files(score)}, headers=auth())
                    assert r.status_code == 200, r.text
                    current.add(r.json()["version"])
                    kept = (await second.get("/v1/rules/versions", headers=auth())).json()["versions"]
                    target = kept[0]["version"]
                    r = await second.post("/v1/rules/rollback", json={"version": target}, headers=auth())
                    assert r.status_code == 200, r.text
                    current.add(target)
                    swaps += 2
            stop.set()
            return swaps

        async def traffic() -> list[dict]:
            seen: list[dict] = []
            while not stop.is_set():
                batch = [
                    client.post("/v1/score", json=event("signup", **VIRTUAL), headers=auth())
                    for client in (first, second)
                    for _ in range(4)
                ]
                responses = await asyncio.gather(*batch)
                assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
                seen += [r.json() for r in responses]
            return seen

        seen, swaps = await asyncio.gather(traffic(), operator())
        assert swaps == 12 and len(seen) >= 8
        for body in seen:
            assert body["ruleset_version"] in current
            assert body["score"] == versions[body["ruleset_version"]], body  # never one set's version, another's rules
        assert len({b["ruleset_version"] for b in seen}) >= 2
