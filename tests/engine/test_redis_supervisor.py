"""The embedded Redis under its supervisor: SIGKILLed it comes back with every write it acknowledged.

Real redis-server processes, killed the way a crash kills them (SIGKILL to the pid in
``redis.pid``), and a real corrupt AOF for the crash loop.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from engine.datastore.embedded import EmbeddedRedis, free_port
from engine.datastore.supervisor import RedisSupervisor, SupervisorState, read_state
from engine.errors import StoreUnavailable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[RedisSupervisor]:
    supervisor = RedisSupervisor(EmbeddedRedis(tmp_path / "data", port=free_port()), first_delay=0.1, max_delay=0.8)
    supervisor.start()
    yield supervisor
    supervisor.stop()


def _client(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis.from_url(server.url, socket_timeout=2, socket_connect_timeout=1)


def _sigkill_from_pid_file(data_dir: Path) -> int:
    pid = int((data_dir / "redis.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    return pid


def _wait_for_ping(server: EmbeddedRedis, within: float) -> float:
    """Seconds until ``server.url`` answers PING again; fails after ``within``."""
    began = time.monotonic()
    while time.monotonic() - began < within:
        try:
            if _client(server).ping():
                return time.monotonic() - began
        except redis.RedisError:
            time.sleep(0.05)
    pytest.fail(f"no PING from {server.url} within {within}s")


def _settled_state(supervisor: RedisSupervisor, state: str) -> SupervisorState:
    """The state file once it says ``state`` (it is written just after the server answers)."""
    deadline = time.monotonic() + 2
    while (found := read_state(supervisor.state_path)) is None or found.state != state:
        if time.monotonic() > deadline:
            pytest.fail(f"supervisor state is {found}, not {state!r}")
        time.sleep(0.02)
    return found


def test_a_killed_server_comes_back_on_its_port_with_every_acknowledged_write(supervised: RedisSupervisor) -> None:
    server = supervised.server
    client = _client(server)
    assert client.config_get("appendfsync") == {"appendfsync": "always"}  # what "acknowledged" relies on
    for round_ in range(1, 4):
        for n in range(200):  # the kill follows the last reply at once: no second for everysec to catch up
            client.incr("budget:trial:used")
            client.rpush("history:c1", f"r{round_}-{n}")
        killed = _sigkill_from_pid_file(server.data_dir)
        assert _wait_for_ping(server, within=5) < 3
        assert int(client.get("budget:trial:used") or 0) == 200 * round_
        assert client.llen("history:c1") == 200 * round_
        assert server.pid != killed and int((server.data_dir / "redis.pid").read_text()) == server.pid
    state = _settled_state(supervised, "running")
    assert (state.restarts_ok, state.restarts_failed) == (3, 0)
    assert state.last_exit == "killed by SIGKILL"


def test_stop_stops_for_good(supervised: RedisSupervisor) -> None:
    pid = supervised.server.pid
    assert pid is not None
    supervised.stop()
    time.sleep(0.5)  # five first delays: a restart would have happened
    assert not supervised.server.running and not _alive(pid)
    assert not (supervised.server.data_dir / "redis.pid").exists()
    state = read_state(supervised.state_path)
    assert state is not None and (state.state, state.restarts_ok) == ("stopped", 0)


def test_a_crash_loop_backs_off_without_spinning_then_recovers(supervised: RedisSupervisor) -> None:
    server = supervised.server
    _client(server).set("kept", "yes")
    aof = server.data_dir / "appendonly.aof"
    good = aof.read_bytes()
    cpu_before = time.process_time()  # this process: the supervisor's thread included
    _sigkill_from_pid_file(server.data_dir)
    with aof.open("ab") as file:
        file.write(b"garbage\r\n")  # Redis now refuses to load it: "Bad file format"
    time.sleep(4)
    state = read_state(supervised.state_path)
    assert state is not None and state.state == "restarting" and state.restarts_ok == 0
    # delays 0.1, 0.2, 0.4, 0.8, 0.8...: at most ~7 attempts in 4 s, not hundreds
    assert 3 <= state.restarts_failed <= 8
    assert "Bad file format" in (state.last_exit or "")
    assert time.process_time() - cpu_before < 1.0
    aof.write_bytes(good)  # an operator repairs the file; nobody touches the supervisor
    assert _wait_for_ping(server, within=5) < 3
    assert _client(server).get("kept") == b"yes"
    assert _settled_state(supervised, "running").restarts_ok == 1


def test_one_data_dir_has_one_server_even_when_its_owner_was_killed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = EmbeddedRedis(data).start()
    try:
        with pytest.raises(StoreUnavailable, match=re.escape(f"{data} is in use by redis-server pid {first.pid}")):
            EmbeddedRedis(data).start()
    finally:
        first.stop()
    # the owner SIGKILLed: its redis-server lives on as an orphan, and still holds the directory
    owner = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from engine.datastore.embedded import EmbeddedRedis; "
         "EmbeddedRedis(sys.argv[1]).start(); print('up', flush=True); time.sleep(60)", str(data)],
        cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert owner.stdout is not None and owner.stdout.readline() == b"up\n"
    owner.kill()
    owner.wait()
    owner.stdout.close()
    orphan = int((data / "redis.pid").read_text())
    try:
        assert _alive(orphan)
        with pytest.raises(StoreUnavailable, match="in use by redis-server pid"):
            EmbeddedRedis(data).start()
    finally:
        os.kill(orphan, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.05)
    with EmbeddedRedis(data) as server:  # free again once the orphan is gone
        assert _client(server).ping()


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_program_that_exits_without_stopping_its_supervisor_leaves_no_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    program = (
        "import sys; from engine.datastore.embedded import EmbeddedRedis; from engine.datastore.supervisor import "
        "RedisSupervisor; RedisSupervisor(EmbeddedRedis(sys.argv[1])).start(); print('up', flush=True)"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, str(data)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout == "up\n"
    assert "died" not in done.stderr  # the last-resort stop at exit was not taken for a crash
    assert not (data / "redis.pid").exists()
    state = read_state(data / "redis-supervisor.json")
    assert state is not None and state.state == "stopped"
