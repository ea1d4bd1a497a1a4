"""No admin answer gives a tenant the server's paths: the pack's files are named by their path inside it.

A tenant's admin or marketer reads its pack through /v1/rules/files, /v1/rules/versions and
the hit report. Those answers used to carry where the server keeps the files
(``/srv/.../rules/risk/referral.yaml``, the watched folder itself, a refused edit's
diagnostics): a map of the host for whoever holds a tenant key. The attacker here holds a
tenant's key and looks for the server's directory in every byte of every answer.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ALPHA, MakeApi, auth
from tests.api.roles import GAMMA, ROLE_KEYS

SHIPPED = Path(__file__).resolve().parents[2] / "rules"
ROUTES = ("/v1/rules/files", "/v1/rules/versions", "/v1/rules/hits", "/v1/rules/sources")


@pytest.fixture
async def served(make_api: MakeApi, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Path]]:
    rules = tmp_path / "server-secret-dir" / "rules"
    shutil.copytree(SHIPPED, rules, ignore=shutil.ignore_patterns("*.md"))
    (rules / "tenants" / "gamma").mkdir(parents=True)
    (rules / "tenants" / "gamma" / "shop.yaml").write_text(
        "rules:\n  - {id: emulator, override: true, score: 35}\n", encoding="utf-8"
    )
    async with make_api(rules_path=rules, api_keys=ROLE_KEYS) as client:
        yield client, rules


@pytest.mark.parametrize("tenant", [ALPHA, GAMMA])
async def test_no_admin_answer_names_a_server_path(served: tuple[httpx.AsyncClient, Path], tenant: str) -> None:
    client, _ = served
    for route in ROUTES:
        answer = await client.get(route, headers=auth(tenant))
        assert answer.status_code == 200, (route, answer.text)
        assert "server-secret-dir" not in answer.text, route
    files = (await client.get("/v1/rules/files", headers=auth(tenant))).json()["files"]
    names = {f["name"] for f in files}
    assert "risk/referral.yaml" in names, names  # the path inside the pack, as the editor lists it
    if tenant == GAMMA:
        assert "shop.yaml" in names
    versions = (await client.get("/v1/rules/versions", headers=auth(tenant))).json()
    assert versions["watch"]["path"] == "rules"
    running = next(v for v in versions["versions"] if v["running"])
    assert "risk/referral.yaml" in running["files"]


async def test_a_refused_edit_names_its_file_inside_the_pack(served: tuple[httpx.AsyncClient, Path]) -> None:
    client, rules = served
    (rules / "tenants" / "gamma" / "shop.yaml").write_text("rules:\n  - {id: x, score: [\n", encoding="utf-8")
    watcher = client.app.state.runtime.watcher  # type: ignore[attr-defined]
    assert await watcher.poll() is False  # refused: gamma keeps its running version
    body = (await client.get("/v1/rules/versions", headers=auth(GAMMA))).json()
    diagnostics = body["watch"]["refused"]["diagnostics"]
    assert diagnostics and diagnostics[0]["file"] == "shop.yaml", diagnostics
    assert "server-secret-dir" not in str(body)
