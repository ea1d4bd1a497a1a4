"""Rules as a ConfigMap: an edited ConfigMap reaches every worker; a broken one changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.ops.conftest import (
    ADMIN_KEY,
    ROOT,
    Yutang,
    configmap_files,
    mount_configmap,
    rules_sync,
    wait_until,
)


def running_version(server: Yutang) -> str:
    return str(httpx.get(f"{server.url}/readyz", timeout=5).json()["ruleset_version"])


def workers_versions(server: Yutang, asks: int = 12) -> set[str]:
    """The versions the workers answer with: one new connection per ask, so both workers are asked."""
    return {running_version(server) for _ in range(asks)}


def test_the_written_out_pack_is_the_shipped_pack_and_compiles(tmp_path: Path) -> None:
    mount_configmap(tmp_path / "configmap", configmap_files(ROOT / "rules"))
    synced = rules_sync("sync", str(tmp_path / "configmap"), str(tmp_path / "rules"), "--once")
    assert synced.returncode == 0, synced.stderr
    written = sorted(p.relative_to(tmp_path / "rules") for p in (tmp_path / "rules").rglob("*.yaml"))
    assert written == sorted(p.relative_to(ROOT / "rules") for p in (ROOT / "rules").rglob("*.yaml"))
    check = subprocess.run(
        [str(Path(sys.executable).with_name("yutang")), "check", str(tmp_path / "rules")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_an_edited_configmap_is_reloaded_on_every_worker(yutang: Yutang) -> None:
    before = running_version(yutang)
    files = configmap_files(ROOT / "rules")
    files["pack.yaml"] = files["pack.yaml"].replace("deny_at: 70", "deny_at: 75")
    mount_configmap(yutang.configmap, files)
    synced = rules_sync(
        "sync", str(yutang.configmap), str(yutang.rules), "--once", "--reload-url", f"{yutang.url}/v1/rules/reload",
        YUTANG_RELOAD_KEY=ADMIN_KEY,
    )  # fmt: skip
    assert synced.returncode == 0, synced.stderr
    assert '"changed":true' in synced.stderr, synced.stderr
    after = json.loads(synced.stderr.split(" -> 200 ", 1)[1].splitlines()[0])["version"]
    assert after != before
    # both workers answer with the new set (the other one picks it up from Redis within a poll)
    wait_until(lambda: workers_versions(yutang) == {after}, timeout=10, what="every worker")


def test_a_broken_configmap_is_refused_and_the_running_rules_stay(yutang: Yutang) -> None:
    wait_until(lambda: len(workers_versions(yutang)) == 1, timeout=10, what="the workers to agree")
    (before,) = workers_versions(yutang)
    files = configmap_files(ROOT / "rules")
    files["pack.yaml"] += "\ndecision: {review_at: [\n"
    mount_configmap(yutang.configmap, files)
    synced = rules_sync(
        "sync", str(yutang.configmap), str(yutang.rules), "--once", "--reload-url", f"{yutang.url}/v1/rules/reload",
        YUTANG_RELOAD_KEY=ADMIN_KEY,
    )  # fmt: skip
    assert synced.returncode == 1
    assert "YAML_SYNTAX" in synced.stderr, "the sidecar's log says what is wrong"
    assert workers_versions(yutang) == {before}
