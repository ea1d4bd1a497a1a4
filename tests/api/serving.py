"""Start a real ``yutang serve`` process for a test and stop it cleanly afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from redis.cluster import ClusterNode, RedisCluster

from engine.datastore.embedded import free_port
from tests.api.conftest import KEYS, SECRET


def process_tree(pid: int) -> set[int]:
    """``pid`` and every live process below it (workers, the embedded Redis in its own session)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = set(), [pid]
    while todo:
        current = todo.pop()
        tree.add(current)
        todo.extend(c for c in children.get(current, ()) if c not in tree)
    return tree


def alive(pids: set[int]) -> set[int]:
    """The ones of ``pids`` still running (a zombie is not)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            running.add(pid)
    return running


def stop_tree(process: subprocess.Popen[bytes], tree: set[int], *, grace_s: float) -> None:
    """SIGTERM the server, give it ``grace_s`` to stop its workers and Redis, then SIGKILL whatever is left.

    ``tree`` is what was seen below it while it ran: the embedded Redis runs in a session of its own, so a
    process group would miss it, and a worker or Redis whose parent died is no longer below it.
    """
    tree = tree | process_tree(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(grace_s)
    deadline = time.monotonic() + grace_s
    while alive(tree - {process.pid}) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in alive(tree):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()


@contextmanager
def yutang_serve(
    tmp_path: Path, *, rules: Path, workers: int = 1, env: dict[str, str] | None = None, start_s: float = 300
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yield the base URL and the process once /readyz answers (``start_s`` at most: two workers on a loaded
    box take minutes); on the way out, or on a failed start, stop it and everything it started."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    environment.update(YUTANG_API_KEYS=KEYS, YUTANG_SECRET=SECRET, YUTANG_BACKEND="python")
    environment.update(env or {})  # a test may bring its own keys
    cmd = [sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--workers", str(workers),
           "--data-dir", str(tmp_path / "data"), "--rules", str(rules)]  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=tmp_path, env=environment, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_s
    tree = {process.pid}
    try:
        while time.monotonic() < deadline and process.poll() is None:
            tree |= process_tree(process.pid)
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            stop_tree(process, tree, grace_s=5)
            pytest.fail(log.read_text())
    except BaseException:  # an interrupt or a fault while waiting: nothing it started may outlive the test
        stop_tree(process, tree, grace_s=5)
        raise
    try:
        tree |= process_tree(process.pid)
        yield base, process
    finally:
        stop_tree(process, tree, grace_s=30)


@contextmanager
def serve_on(request: pytest.FixtureRequest, root: Path, *, rules: Path, env: dict[str, str]) -> Iterator[str]:
    """A 2-worker ``yutang serve`` on its embedded Redis, or (``request.param == "cluster"``) on
    the session's 3-master cluster, which is shared: it is left as found, empty."""
    if request.param != "cluster":
        with yutang_serve(root, rules=rules, workers=2, env=env) as (base, _):
            yield base
        return
    cluster = request.getfixturevalue("redis_cluster")
    env = {**env, "REDIS_URL": cluster.url, "REDIS_CLUSTER": "1", "YUTANG_REDIS_TIMEOUT_MS": "5000"}
    client = RedisCluster(startup_nodes=[ClusterNode(n.host, n.port) for n in cluster.nodes()])
    try:
        with yutang_serve(root, rules=rules, workers=2, env=env) as (base, _):
            yield base
    finally:
        client.flushall(target_nodes=RedisCluster.PRIMARIES)
        client.close()
