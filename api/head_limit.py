"""Bounds on a request's head (request line and headers), before any app code runs: its size and its time.

uvicorn's httptools protocol keeps every byte of a head until the head ends: the URL
and each header value are joined in memory with no limit (its h11 protocol has one, 16
KiB; httptools has none). Nothing of the app runs before the head is complete, so the
body limit, the keys and the rate of a caller cannot help: one connection that sends a
header of 300 MB that never ends grew a worker by ~390 MB, and the memory was not given
back (tests/api/test_redteam_session5.py). No key is needed to do it.

Trusted of a caller here: nothing. Counted: the bytes of every read that leaves the head
still open, from the first byte of a request (or the end of the one before it) until
its headers are complete; a read in which a head completes or a message ends is not
counted, so a body (bounded by the body limit, api/middleware.py) never is. What is
kept is so bounded by ``MAX_HEAD_BYTES`` plus one read. Refused: an answer 431
``request_head_too_large`` (JSON, like every error), then the connection is closed.
64 KiB is four times what nginx lets a header line have by default and leaves a
storefront's tracing headers and a long bearer key plenty.

Time: uvicorn closes a connection idle between two requests (keep-alive, 5 s) but never
one that has not finished its first head: a connection that sends nothing, or a head a
byte at a time (slowloris), was held for as long as the caller liked, so a few
thousand of them took every file descriptor of a worker. A head must now be complete
within ``YUTANG_HEAD_TIMEOUT_S`` (20 s) of the connection or of its first bytes: else a
408 ``request_timeout`` (nothing if nothing was sent) and the connection is closed. The
timer costs one ``call_later`` per connection, and one per head that did not arrive in
one read; an ordinary request arrives in one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_S = float(os.environ.get("YUTANG_HEAD_TIMEOUT_S", "20"))

log = logging.getLogger("yutang.http")


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head over ``MAX_HEAD_BYTES`` with 431."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._head_open = True  # the next bytes read belong to a request's head
        self._milestones = 0  # heads completed and messages ended: a read with one is not all head
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():  # refused: what is still in flight is dropped, not parsed
            return
        seen = self._milestones
        super().data_received(data)
        if not self._head_open or self._milestones != seen:
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(431, "Request Header Fields Too Large", "request_head_too_large",
                         f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes")  # fmt: skip
        elif self._head_timer is None:
            self._arm()  # a head that did not arrive in one read: it has HEAD_TIMEOUT_S from now

    def on_headers_complete(self) -> None:
        self._head_open, self._head_bytes = False, 0
        self._milestones += 1
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._head_open, self._head_bytes = True, 0
        self._milestones += 1
        super().on_message_complete()

    def _arm(self) -> None:
        self._head_timer = asyncio.get_running_loop().call_later(HEAD_TIMEOUT_S, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._head_open or self.transport.is_closing():
            return
        if not self._head_bytes:  # nothing of a request was sent (a connection opened and left idle)
            self.transport.close()
            return
        self._refuse(408, "Request Timeout", "request_timeout",
                     f"the request line and headers took longer than {HEAD_TIMEOUT_S:g} s")  # fmt: skip

    def _refuse(self, status: int, phrase: str, code: str, message: str) -> None:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        head = (
            f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode()
        log.warning("refused a request head: %s", message)
        self._disarm()
        self.transport.write(head + body)
        self.transport.close()
