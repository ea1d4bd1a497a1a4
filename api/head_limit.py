"""A bound on a request's head (request line and headers): 431 past ``MAX_HEAD_BYTES``, before any app code runs.

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
"""

from __future__ import annotations

import json
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024

log = logging.getLogger("yutang.http")


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head over ``MAX_HEAD_BYTES`` with 431."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._head_open = True  # the next bytes read belong to a request's head
        self._milestones = 0  # heads completed and messages ended: a read with one is not all head

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():  # refused: what is still in flight is dropped, not parsed
            return
        seen = self._milestones
        super().data_received(data)
        if not self._head_open or self._milestones != seen:
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse()

    def on_headers_complete(self) -> None:
        self._head_open, self._head_bytes = False, 0
        self._milestones += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._head_open, self._head_bytes = True, 0
        self._milestones += 1
        super().on_message_complete()

    def _refuse(self) -> None:
        message = f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes"
        body = json.dumps({"error": {"code": "request_head_too_large", "message": message}}).encode()
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n"
        )
        log.warning("refused a request head over %d bytes", MAX_HEAD_BYTES)
        self.transport.write(head + body)
        self.transport.close()
