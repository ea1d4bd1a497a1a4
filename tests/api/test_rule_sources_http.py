"""Saves of one file racing over real HTTP on a 2-worker server: one wins, the other is told, both workers agree.

Two editors opened ``pack.yaml`` at the same version and save different edits at the
same moment, each on fresh connections (so on either worker). Without the edit lock
both would pass the version check and the second would silently undo the first.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import ALPHA, KEYS, PACK, auth
from tests.api.serving import yutang_serve


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    rules = tmp_path / "rules"
    shutil.copytree(PACK, rules)
    env = {"YUTANG_API_KEYS": KEYS, "YUTANG_RULES_POLL_S": "0.3"}
    with yutang_serve(tmp_path, rules=rules, workers=2, env=env) as (base, _):
        yield base


def versions(base: str, asks: int = 6) -> set[str]:
    """The running version as several fresh connections (either worker) see it."""
    return {httpx.get(f"{base}/v1/rules", headers=auth(ALPHA), timeout=30).json()["version"] for _ in range(asks)}


def test_two_saves_from_one_version_one_wins_the_other_gets_409(server: str) -> None:
    opened = httpx.get(f"{server}/v1/rules/source", params={"path": "pack.yaml"}, headers=auth(ALPHA), timeout=30)
    assert opened.status_code == 200, opened.text
    text, version = opened.json()["text"], opened.json()["version"]
    edits = [text.replace("review_at: 40", f"review_at: {n}", 1) for n in (41, 42)]
    assert all(edit != text for edit in edits)
    answers: list[httpx.Response] = []
    start = threading.Barrier(2)

    def save(edit: str) -> None:
        body: dict[str, Any] = {"path": "pack.yaml", "text": edit, "version": version}
        start.wait()
        answers.append(httpx.post(f"{server}/v1/rules/source/reload", json=body, headers=auth(ALPHA), timeout=60))

    threads = [threading.Thread(target=save, args=(edit,)) for edit in edits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 409], [a.text for a in answers]
    won = next(a for a in answers if a.status_code == 200).json()
    lost = next(a for a in answers if a.status_code == 409).json()["error"]
    assert lost["code"] in ("stale_version", "edit_in_progress"), lost

    deadline = time.monotonic() + 10
    while versions(server) != {won["version"]} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert versions(server) == {won["version"]}  # both workers run the winner's edit
    late = httpx.post(
        f"{server}/v1/rules/source/reload", json={"path": "pack.yaml", "text": edits[0], "version": version},
        headers=auth(ALPHA), timeout=60,
    )  # fmt: skip
    assert late.status_code == 409 and late.json()["error"]["code"] == "stale_version", late.text
    assert versions(server) == {won["version"]}
