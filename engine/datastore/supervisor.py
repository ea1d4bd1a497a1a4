"""Keep the embedded Redis alive: restart it from its files when it dies, with backoff.

``yutang serve`` starts one :class:`RedisSupervisor` in its parent process, beside the
one embedded server; uvicorn's workers are its children and only connect to the
socket, so however many workers there are, exactly one supervisor acts (and the data
directory's lock, :mod:`engine.datastore.embedded`, refuses a second ``yutang serve`` on
the same files).

A thread blocks in ``waitpid`` on the server: no polling, no CPU while it runs. When it
exits without :meth:`RedisSupervisor.stop` having been called, the thread logs it at
ERROR, waits, and starts it again on the same port or socket; Redis replays its AOF
(an RDB preamble after a rewrite, then the appended commands) before it answers PING,
so the workers' next commands see every write it acknowledged (``appendfsync
always``). Delays double from ``first_delay`` up to ``max_delay`` while it keeps dying
(a corrupt AOF, a full disk, a port taken) and fall back to ``first_delay`` once it has
stayed up ``stable_after`` seconds, so a crash loop costs one redis-server start per
``max_delay``, not a spinning core.

The state (running / restarting / stopped, restarts by outcome, the last exit) is kept
in a small JSON file in the data directory, rewritten atomically at each change:
workers are other processes, and read it for ``/readyz`` and ``/metrics``
(:func:`read_state`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from engine.datastore.embedded import EmbeddedRedis
from engine.errors import StoreUnavailable

log = logging.getLogger("yutang.redis")

State = Literal["running", "restarting", "stopped"]

#: Where ``yutang serve`` keeps the supervisor's state, inside the data directory.
STATE_FILE = "redis-supervisor.json"


@dataclass(slots=True)
class SupervisorState:
    """What the supervisor last did; the JSON document of the state file."""

    state: State = "running"
    pid: int | None = None
    restarts_ok: int = 0
    restarts_failed: int = 0
    last_exit: str | None = None
    next_attempt_in_s: float | None = None
    updated_at: float = field(default_factory=time.time)


def read_state(path: Path) -> SupervisorState | None:
    """The state file's content; None when it is missing or unreadable (never raises)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SupervisorState(**data)
    except (OSError, ValueError, TypeError):
        return None


class RedisSupervisor:
    """Restart one :class:`EmbeddedRedis` whenever it exits, until :meth:`stop`."""

    def __init__(
        self,
        server: EmbeddedRedis,
        *,
        first_delay: float = 0.2,
        max_delay: float = 30.0,
        stable_after: float = 60.0,
        state_path: Path | None = None,
    ) -> None:
        self.server = server
        self.first_delay = first_delay
        self.max_delay = max(max_delay, first_delay)
        self.stable_after = stable_after
        self.state_path = state_path or server.data_dir / STATE_FILE
        self.status = SupervisorState()
        self._stopping = threading.Event()
        self._restart_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> RedisSupervisor:
        """Start the server (blocking until it answers) and the thread that watches it."""
        self.server.start()
        self._publish(state="running", pid=self.server.pid)
        self._thread = threading.Thread(target=self._watch, name="yutang-redis-supervisor", daemon=True)
        self._thread.start()
        # before the interpreter's last-resort stop of every embedded server (registered
        # earlier, so run later): a server stopped behind our back would be restarted
        atexit.register(self.stop)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server cleanly and for good: nothing restarts it after this."""
        self._stopping.set()
        atexit.unregister(self.stop)
        with self._restart_lock:  # an attempt in progress finishes first, then is stopped
            self.server.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        self._publish(state="stopped", pid=None, next_attempt_in_s=None)

    # -- the watching thread -----------------------------------------------------

    def _watch(self) -> None:
        delay = self.first_delay
        while not self._stopping.is_set():
            up_since = time.monotonic()
            code = self.server.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - up_since >= self.stable_after:
                delay = self.first_delay
            exit_text = describe_exit(code)
            log.error(
                "embedded Redis (pid %s) died: %s; restarting it from %s in %.1f s",
                self.status.pid, exit_text, self.server.data_dir, delay,
            )  # fmt: skip
            self._publish(state="restarting", pid=None, last_exit=exit_text, next_attempt_in_s=delay)
            delay = self._restart(delay)

    def _restart(self, delay: float) -> float:
        """Try until the server is back (or we are stopping); return the next delay to use."""
        while not self._stopping.wait(delay):
            began = time.monotonic()
            with self._restart_lock:
                if self._stopping.is_set():
                    break
                try:
                    self.server.start()
                except StoreUnavailable as err:
                    delay = min(delay * 2, self.max_delay)
                    log.error("embedded Redis did not come back: %s; next attempt in %.1f s", err, delay)
                    self._publish(
                        restarts_failed=self.status.restarts_failed + 1, last_exit=str(err), next_attempt_in_s=delay
                    )
                    continue
            log.warning(
                "embedded Redis restarted at %s (pid %s, its AOF replayed in %.1f s)",
                self.server.url, self.server.pid, time.monotonic() - began,
            )  # fmt: skip
            self._publish(
                state="running", pid=self.server.pid, restarts_ok=self.status.restarts_ok + 1, next_attempt_in_s=None
            )
            return min(delay * 2, self.max_delay)
        return delay

    def _publish(self, **changes: object) -> None:
        """Apply ``changes`` and rewrite the state file atomically (a reader never sees half)."""
        for name, value in changes.items():
            setattr(self.status, name, value)
        self.status.updated_at = time.time()
        tmp = self.state_path.with_suffix(".tmp")
        with contextlib.suppress(OSError):  # a full disk must not kill the supervisor
            tmp.write_text(json.dumps(asdict(self.status)), encoding="utf-8")
            os.replace(tmp, self.state_path)


def describe_exit(code: int | None) -> str:
    """``killed by SIGKILL`` / ``exited with status 1``, from a Popen return code."""
    if code is None:
        return "gone"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exited with status {code}"
