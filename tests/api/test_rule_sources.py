"""Edit one file of the running pack, over the real ASGI app on the shipped pack: what a marketer and an attacker get.

alpha runs the platform's base (the shipped pack) alone, so it edits a copy; gamma has
a layered pack of its own in ``rules/tenants/gamma/`` and reads the base read-only.
Every answer is checked for what a user would notice: the paths, the line of a
diagnostic, the running version before and after, the audit entry.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.admin.sources import MAX_TEXT
from tests.api.conftest import ALPHA, BETA, MakeApi, auth
from tests.api.roles import GAMMA, MARKETER, REVIEWER, ROLE_KEYS

SHIPPED = Path(__file__).resolve().parents[2] / "rules"
GAMMA_LAYER = "rules:\n  - {id: emulator, override: true, score: 35}\n"
REFERRAL = "risk/referral.yaml"


@pytest.fixture
async def shipped(make_api: MakeApi, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    rules = tmp_path / "shipped-rules"
    shutil.copytree(SHIPPED, rules, ignore=shutil.ignore_patterns("*.md"))
    (rules / "tenants" / "gamma").mkdir(parents=True)
    (rules / "tenants" / "gamma" / "shop.yaml").write_text(GAMMA_LAYER, encoding="utf-8")
    async with make_api(rules_path=rules, api_keys=ROLE_KEYS) as client:
        client.rules_dir = rules  # type: ignore[attr-defined]
        yield client


HEADERS = auth(ALPHA)


async def post(client: httpx.AsyncClient, action: str, body: dict[str, Any], key: str = ALPHA) -> httpx.Response:
    """POST /v1/rules/source/<action> (validate, reload) with ``key``."""
    return await client.post(f"/v1/rules/source/{action}", json=body, headers=auth(key))


async def running(client: httpx.AsyncClient, key: str = ALPHA) -> str:
    answer = await client.get("/v1/rules", headers=auth(key))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["version"])


async def source(client: httpx.AsyncClient, path: str, key: str = ALPHA) -> dict[str, Any]:
    answer = await client.get("/v1/rules/source", params={"path": path}, headers=auth(key))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def one_number_edit(text: str) -> tuple[str, str, int, int]:
    """``text`` with the first rule's score raised by 5: (new text, rule id, old score, new score)."""
    rule = re.search(r"- id: (\w+)", text)
    score = re.search(r"score: (\d+)", text)
    assert rule and score
    old = int(score.group(1))
    return text[: score.start(1)] + str(old + 5) + text[score.end(1) :], rule.group(1), old, old + 5


async def test_files_are_listed_by_their_path_inside_the_pack_never_the_servers(shipped: httpx.AsyncClient) -> None:
    answer = await shipped.get("/v1/rules/sources", headers=auth(ALPHA))
    assert answer.status_code == 200, answer.text
    listing = answer.json()
    server_dir = str(shipped.rules_dir)  # type: ignore[attr-defined]
    assert server_dir not in answer.text and str(SHIPPED) not in answer.text
    paths = {f["path"]: f for f in listing["files"]}
    assert {"pack.yaml", REFERRAL, "journeys/studio_ladder.yaml"} <= set(paths)
    assert not any(p.startswith(("tenants", "/", ".")) for p in paths)  # gamma's directory is not alpha's pack
    assert listing["mode"] == "base" and listing["copy_on_save"] is True
    assert all(f["layer"] == "base" and f["editable"] for f in listing["files"])
    assert "referral_device_burst" in paths[REFERRAL]["rules"]

    one = await source(shipped, REFERRAL)
    on_disk = (shipped.rules_dir / REFERRAL).read_text(encoding="utf-8")  # type: ignore[attr-defined]
    assert one["text"] == on_disk and one["version"] == listing["version"] and one["path"] == REFERRAL

    layered = (await shipped.get("/v1/rules/sources", headers=auth(GAMMA))).json()
    assert layered["mode"] == "layered" and layered["copy_on_save"] is False
    own = [f for f in layered["files"] if f["editable"]]
    assert [(f["path"], f["layer"]) for f in own] == [("shop.yaml", "tenant")]
    assert {f["path"] for f in layered["files"] if f["layer"] == "base"} == set(paths)  # read-only, but readable
    assert server_dir not in json.dumps(layered)


async def test_a_one_number_edit_checks_clean_and_reloads_as_an_audited_new_version(
    shipped: httpx.AsyncClient,
) -> None:
    before = await running(shipped)
    text = (await source(shipped, REFERRAL))["text"]
    edited, rule_id, old, new = one_number_edit(text)

    whole = await shipped.post("/v1/rules/validate", json={"files": {REFERRAL: edited}}, headers=auth(ALPHA))
    assert len([d for d in whole.json()["diagnostics"] if d["severity"] == "error"]) > 5  # the complaint

    check = await shipped.post(
        "/v1/rules/source/validate", json={"path": REFERRAL, "text": edited, "version": before}, headers=auth(ALPHA)
    )
    assert check.status_code == 200, check.text
    checked = check.json()
    assert checked["ok"] is True and checked["stale"] is False and checked["running"] == before
    assert not [d for d in checked["diagnostics"] if d["severity"] == "error"]
    assert checked["changes"]["added"] == [] and checked["changes"]["removed"] == []
    assert checked["changes"]["changed"] == [
        {"id": rule_id, "fields": ["score"], "values": {"score": {"before": old, "after": new}}}
    ]
    assert await running(shipped) == before  # validating loads nothing

    saved = await shipped.post(
        "/v1/rules/source/reload", json={"path": REFERRAL, "text": edited, "version": before}, headers=auth(MARKETER)
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["changed"] is True and body["previous"] == before and body["version"] == checked["version"]
    assert body["mode"] == "own" and [c["id"] for c in body["changes"]["changed"]] == [rule_id]
    assert await running(shipped) == body["version"] != before
    assert await running(shipped, BETA) == before  # the base, and every other tenant on it, as it was
    assert (shipped.rules_dir / REFERRAL).read_text(encoding="utf-8") == text  # type: ignore[attr-defined]

    after = (await shipped.get("/v1/rules/sources", headers=auth(ALPHA))).json()
    assert after["mode"] == "own" and {f["path"] for f in after["files"]} >= {REFERRAL, "pack.yaml"}
    assert (await source(shipped, REFERRAL))["text"] == edited  # the same path names the edited file

    trail = (await shipped.get("/v1/audit", headers=auth(ALPHA))).json()["entries"]
    entry = next(e for e in trail if e["action"] == "rules.reload")
    assert entry["target"] == f"file {REFERRAL}" and entry["role"] == "marketer" and entry["source"] == "api"
    assert (entry["before"], entry["after"]) == (before, body["version"])
    assert entry["diff"]["rules"]["changed"] == [rule_id]

    again, _, _, _ = one_number_edit(edited)
    stale = await shipped.post(
        "/v1/rules/source/reload", json={"path": REFERRAL, "text": again, "version": before}, headers=auth(ALPHA)
    )
    assert stale.status_code == 409, stale.text
    error = stale.json()["error"]
    assert error["code"] == "stale_version" and error["running"] == body["version"] and before in error["message"]
    assert await running(shipped) == body["version"]
    check = await shipped.post(
        "/v1/rules/source/validate", json={"path": REFERRAL, "text": again, "version": before}, headers=auth(ALPHA)
    )
    assert check.json()["stale"] is True and check.json()["running"] == body["version"]


async def test_a_broken_edit_is_shown_on_its_line_and_never_replaces_the_running_set(
    shipped: httpx.AsyncClient,
) -> None:
    before = await running(shipped)
    text = (await source(shipped, REFERRAL))["text"]
    broken = text.replace("referrer.invitee_subnets_24h <= 2", "referrer.invitee_subnet_24h <= 2", 1)
    line = next(n for n, row in enumerate(broken.splitlines(), 1) if "invitee_subnet_24h" in row)

    check = await post(shipped, "validate", {"path": REFERRAL, "text": broken})
    assert check.status_code == 200, check.text
    checked = check.json()
    assert checked["ok"] is False and checked["version"] is None and checked["changes"] is None
    errors = [d for d in checked["diagnostics"] if d["severity"] == "error"]
    found = [(d["file"], d["layer"], d["line"], d["code"]) for d in errors]
    assert found == [(REFERRAL, "tenant", line, "UNKNOWN_NAME")]
    assert "did you mean 'referrer.invitee_subnets_24h'" in errors[0]["message"]

    refused = await shipped.post(
        "/v1/rules/source/reload", json={"path": REFERRAL, "text": broken, "version": before}, headers=auth(ALPHA)
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "rule_pack_invalid" and error["running"] == before
    assert [(d["file"], d["line"]) for d in error["diagnostics"] if d["severity"] == "error"] == [(REFERRAL, line)]
    assert str(shipped.rules_dir) not in refused.text  # type: ignore[attr-defined]
    assert await running(shipped) == before
    assert (await shipped.get("/v1/rules/sources", headers=auth(ALPHA))).json()["mode"] == "base"


BAD_PATHS = {
    "../pack.yaml": "'..'",
    "risk/../pack.yaml": "'..'",
    "./pack.yaml": "'.'",
    "risk//referral.yaml": "empty",
    "/etc/yutang/pack.yaml": "absolute",
    "C:/rules/pack.yaml": "absolute",
    "risk\\referral.yaml": "backslash",
    "pack.yaml\x00.txt": "NUL",
    "pack\n.yaml": "control",
    "pack.json": ".yaml",
    "x" * 300 + ".yaml": "200",
}


async def test_a_path_outside_the_running_pack_names_the_problem_and_changes_nothing(
    shipped: httpx.AsyncClient,
) -> None:
    before, layered = await running(shipped), await running(shipped, GAMMA)
    text = (await source(shipped, "pack.yaml"))["text"]
    for path, reason in BAD_PATHS.items():
        for route in ("/v1/rules/source/validate", "/v1/rules/source/reload"):
            answer = await shipped.post(route, json={"path": path, "text": text, "version": before}, headers=HEADERS)
            assert answer.status_code == 422, (route, path, answer.text)
            fields = answer.json()["error"]["fields"]
            assert fields[0]["field"] == "path" and reason in fields[0]["message"], (path, fields)
        read = await shipped.get("/v1/rules/source", params={"path": path}, headers=auth(ALPHA))
        assert read.status_code == 422 and read.json()["error"]["fields"][0]["field"] == "path", (path, read.text)

    for path in ("shop.yaml", "tenants/gamma/shop.yaml", "nothere.yaml"):  # gamma's file; no file of alpha's pack
        answer = await shipped.post(
            "/v1/rules/source/reload", json={"path": path, "text": GAMMA_LAYER, "version": before}, headers=auth(ALPHA)
        )
        assert answer.status_code == 404 and path in answer.json()["error"]["message"], answer.text
        read = await shipped.get("/v1/rules/source", params={"path": path}, headers=auth(ALPHA))
        assert read.status_code == 404, read.text

    assert (await source(shipped, "pack.yaml", GAMMA))["editable"] is False  # gamma reads the base...
    for route in ("/v1/rules/source/validate", "/v1/rules/source/reload"):  # ...and never writes it
        body = {"path": "pack.yaml", "text": text.replace("review_at", "review_at", 1), "version": layered}
        answer = await shipped.post(route, json=body, headers=auth(GAMMA))
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "read_only", answer.text
        assert "override: true" in answer.json()["error"]["message"]
    for key in (REVIEWER,):  # a role without the rules ability
        answer = await shipped.post(
            "/v1/rules/source/reload", json={"path": "pack.yaml", "text": text, "version": before}, headers=auth(key)
        )
        assert answer.status_code == 403 and "rules" in answer.json()["error"]["message"], answer.text
    assert (await running(shipped), await running(shipped, GAMMA)) == (before, layered)


YAML_BOMB = "lol: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"l{n}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 10)}]\n" for n in range(7)
)


async def test_hostile_text_is_a_diagnostic_or_a_4xx_and_the_running_set_stays(shipped: httpx.AsyncClient) -> None:
    before = await running(shipped)
    too_long = await shipped.post(
        "/v1/rules/source/validate", json={"path": REFERRAL, "text": "#" * (MAX_TEXT + 1)}, headers=auth(ALPHA)
    )
    assert too_long.status_code == 422 and too_long.json()["error"]["fields"][0]["field"] == "text"
    huge = await shipped.post(
        "/v1/rules/source/reload", json={"path": REFERRAL, "text": "#" * (3 << 20), "version": before},
        headers=auth(ALPHA),
    )  # fmt: skip
    assert huge.status_code == 413, huge.text

    frozen = (await source(shipped, "risk/devices.yaml"))["text"].replace('".*headless.*"', '"(a+)+\\\\1"', 1)
    line = next(n for n, row in enumerate(frozen.splitlines(), 1) if "(a+)+" in row)
    for path, text, code, at in (("pack.yaml", YAML_BOMB, "LIMIT_EXCEEDED", None),
                                 ("risk/devices.yaml", frozen, "BAD_REGEX", line)):  # fmt: skip
        check = await shipped.post("/v1/rules/source/validate", json={"path": path, "text": text}, headers=auth(ALPHA))
        assert check.status_code == 200, check.text
        errors = [d for d in check.json()["diagnostics"] if d["severity"] == "error"]
        assert check.json()["ok"] is False and any(d["code"] == code and d["file"] == path for d in errors), errors
        assert at is None or any(d["line"] == at for d in errors if d["code"] == code)
        saved = await shipped.post(
            "/v1/rules/source/reload", json={"path": path, "text": text, "version": before}, headers=auth(ALPHA)
        )
        assert saved.status_code == 422 and saved.json()["error"]["code"] == "rule_pack_invalid", saved.text
    assert await running(shipped) == before


async def test_a_tenant_with_a_layered_pack_edits_its_own_file_on_the_base(shipped: httpx.AsyncClient) -> None:
    before, base = await running(shipped, GAMMA), await running(shipped)
    text = (await source(shipped, "shop.yaml", GAMMA))["text"]
    assert text == GAMMA_LAYER
    saved = await shipped.post(
        "/v1/rules/source/reload", json={"path": "shop.yaml", "text": text.replace("35", "40"), "version": before},
        headers=auth(GAMMA),
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["mode"] == "layered" and body["changes"]["changed"][0]["values"]["score"] == {"before": 35, "after": 40}
    assert await running(shipped, GAMMA) == body["version"] != before and await running(shipped) == base
    rules = (await shipped.get("/v1/rules", headers=auth(GAMMA))).json()["rules"]
    assert next(r["score"] for r in rules if r["id"] == "emulator") == 40
