"""A real ``yutang serve`` (two workers, embedded Redis) and a real Prometheus scraping it.

Both are separate processes on loopback ports, started once per session and stopped
at its end. Prometheus comes from Debian's ``prometheus`` package (``.ci/run``
installs it); tests that need it are skipped, saying so, where it is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from engine.datastore.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
ADMIN_KEY = "ops-admin-key-0123456789"
SCORE_KEY = "ops-score-key-0123456789"
SCRAPE_INTERVAL_S = 1


@dataclass
class Yutang:
    url: str
    rules: Path  # the symlink YUTANG_RULES points at
    configmap: Path  # the simulated ConfigMap mount rules_sync reads
    log: Path

    def client(self, key: str = ADMIN_KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=10)


@dataclass
class Prometheus:
    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result vector (or a one-element list for a scalar)."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert answer["status"] == "success", f"{expr}: {answer}"
        data = answer["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.url}{path}", params=params, timeout=10).json()
        assert answer["status"] == "success", f"{path}: {answer}"
        return answer["data"]


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def mount_configmap(mount: Path, files: dict[str, str]) -> None:
    """Lay ``files`` out as the kubelet mounts a ConfigMap: a timestamped hidden directory,
    ``..data`` pointing at it, and one symlink per key; an update swaps ``..data``."""
    mount.mkdir(parents=True, exist_ok=True)
    stamp = mount / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
    stamp.mkdir()
    for key, text in files.items():
        (stamp / key).write_text(text, encoding="utf-8")
    (mount / "..data_tmp").symlink_to(stamp.name)
    os.replace(mount / "..data_tmp", mount / "..data")
    for key in files:
        if not (mount / key).is_symlink():
            (mount / key).symlink_to(f"..data/{key}")


def rules_sync(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ops/rules_sync.py as the init container and the sidecar do."""
    command = [sys.executable, str(OPS / "rules_sync.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, **env})


def configmap_files(rules: Path) -> dict[str, str]:
    rendered = rules_sync("configmap", str(rules))
    assert rendered.returncode == 0, rendered.stderr
    return dict(json.loads(rendered.stdout)["data"])


@pytest.fixture(scope="session")
def yutang(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Yutang]:
    """``yutang serve --workers 2`` on the shipped pack, delivered as in Kubernetes: a mounted
    ConfigMap written out by ``rules_sync.py sync --once`` behind the symlink ``rules/current``."""
    base = tmp_path_factory.mktemp("yutang")
    mount_configmap(base / "configmap", configmap_files(ROOT / "rules"))
    (base / "rules").mkdir()
    rules = base / "rules" / "current"
    synced = rules_sync("sync", str(base / "configmap"), str(rules), "--once")
    assert synced.returncode == 0, synced.stderr
    port = free_port()
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["YUTANG_API_KEYS"] = f"{ADMIN_KEY}:ops:score+events+admin,{SCORE_KEY}:ops:score"
    env["YUTANG_SECRET"] = "ops-test-secret-0123456789"
    env["YUTANG_RULES_POLL_S"] = "0.5"
    log = base / "serve.log"
    command = [
        str(Path(sys.executable).with_name("yutang")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--data-dir",
        str(base / "data"),
        "--rules",
        str(rules),
        "--log-level",
        "warning",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=base)
    server = Yutang(url=f"http://127.0.0.1:{port}", rules=rules, configmap=base / "configmap", log=log)
    try:
        wait_until(
            lambda: process.poll() is None and _answers(f"{server.url}/readyz"),
            timeout=60,
            what=f"yutang serve to be ready (log: {log.read_text(errors='replace')[-2000:] if log.exists() else ''})",
        )
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.skip("the prometheus server is not installed (Debian: apt-get install prometheus; .ci/run does it)")
    return found


@pytest.fixture(scope="session")
def prometheus(
    prometheus_binary: str, yutang: Yutang, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """Prometheus scraping ``yutang`` every second, with ops/prometheus/alerts.yml loaded."""
    base = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    target = yutang.url.removeprefix("http://")
    config = {
        "global": {"scrape_interval": f"{SCRAPE_INTERVAL_S}s", "evaluation_interval": f"{SCRAPE_INTERVAL_S}s"},
        "rule_files": [str(OPS / "prometheus" / "alerts.yml")],
        "scrape_configs": [{"job_name": "yutang", "static_configs": [{"targets": [target]}]}],
    }
    (base / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = base / "prometheus.log"
    command = [
        prometheus_binary,
        f"--config.file={base / 'prometheus.yml'}",
        f"--storage.tsdb.path={base / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=base)
    server = Prometheus(url=f"http://127.0.0.1:{port}")
    try:
        wait_until(
            lambda: process.poll() is None and _answers(f"{server.url}/-/ready"),
            timeout=30,
            what=f"prometheus to be ready (log: {log.read_text(errors='replace')[-2000:] if log.exists() else ''})",
        )
        yield server
    finally:
        _stop(process)
