"""HTTP/1.1 on a raw socket: the bytes an attacker controls, and the answer as the server sent it."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.api.conftest import ALPHA


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    closed: bool  # the server closed the connection after this answer

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name.lower()), None)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def code(self) -> str | None:
        return self.json().get("error", {}).get("code") if self.body.startswith(b"{") else None


def address(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    return parts.hostname or "127.0.0.1", parts.port or 80


def head(
    *,
    length: int | None = None,
    path: str = "/v1/score",
    key: str | None = ALPHA,
    content_type: str | None = "application/json",
    extra: Iterable[tuple[str, str | bytes]] = (),
    chunked: bool = False,
) -> bytes:
    """A request head; ``extra`` headers go after the usual ones (bytes values are sent as they are)."""
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: yutang.test"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}".encode())
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}".encode())
    if length is not None:
        lines.append(f"Content-Length: {length}".encode())
    if chunked:
        lines.append(b"Transfer-Encoding: chunked")
    for name, value in extra:
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()))
    return b"\r\n".join(lines) + b"\r\n\r\n"


def request(body: bytes | dict[str, Any], **options: Any) -> bytes:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return head(length=len(data), **options) + data


def chunks(data: bytes, size: int) -> bytes:
    """``data`` as a chunked body of ``size``-byte chunks, with its last chunk."""
    parts = [b"%x\r\n%s\r\n" % (len(data[i : i + size]), data[i : i + size]) for i in range(0, len(data), size)]
    return b"".join(parts) + b"0\r\n\r\n"


class Connection:
    """One keep-alive connection: send bytes (all at once or in timed pieces), read whole answers."""

    def __init__(self, base: str, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(address(base), timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def trickle(self, data: bytes, pieces: int, pause_s: float) -> None:
        step = max(1, len(data) // pieces)
        for i in range(0, len(data), step):
            self.sock.sendall(data[i : i + step])
            time.sleep(pause_s)

    def answer(self) -> Answer:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        raw_head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
        headers = [(name.strip().lower(), value.strip()) for name, _, value in (h.partition(":") for h in header_lines)]
        length = int(next((v for k, v in headers if k == "content-length"), "0"))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        closed = any(k == "connection" and v.lower() == "close" for k, v in headers)
        return Answer(int(status_line.split(" ", 2)[1]), headers, body, closed)

    def exchange(self, data: bytes) -> Answer:
        self.send(data)
        return self.answer()

    def at_eof(self, within_s: float = 5.0) -> bool:
        """Whether the server closed the connection (nothing more to read) within ``within_s``."""
        self.sock.settimeout(within_s)
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"the server closed the connection; unread: {self.buffer[:200]!r}")
        self.buffer += chunk


def exchange(base: str, data: bytes) -> Answer:
    """One request on a fresh connection."""
    with Connection(base) as conn:
        return conn.exchange(data)
