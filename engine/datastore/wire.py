"""The lean path to one Redis server: one write per loop pass, hiredis parsing, one timer per round trip.

Why not redis-py's connection: on Python 3.11 a redis-py command with a ``socket_timeout``
runs its send through ``asyncio.wait_for`` (a Task) and its read under its own timer, its
pipeline machinery and per-command bookkeeping cost ~19 µs per command, and a timer that
fires in the same loop pass as the reply's arrival wins over the task that would read it
(a worker starved for longer than the timeout answers "Redis timed out" with the replies
already in its socket). Here an :class:`asyncio.Protocol` owns the socket:

- :meth:`RespProtocol.send` writes one buffer (every command a loop pass queued, packed by
  hiredis) and queues one future per command; ``data_received`` feeds ``hiredis.Reader``
  and resolves the futures in order, in the same callback that got the bytes (an error
  reply fails its own command only);
- each write arms one ``call_later`` timer, cancelled when its last reply is read. When it
  fires, the server is taken as hung: every pending command fails with
  :class:`redis.exceptions.TimeoutError` and the connection is aborted, so a late reply is
  never read as the answer to a later command. asyncio and uvloop both run a loop pass's
  I/O callbacks before its expired timers, so replies that arrived while the worker was
  starved are read, not timed out;
- a lost connection (server stopped, restarted by the supervisor) fails the pending
  commands with :class:`redis.exceptions.ConnectionError`; the next write reconnects.

:class:`LeanLink` is the one connection a client keeps (Redis runs commands one at a time,
so one pipelined connection per worker carries what a pool would): it connects on first
use (TCP, TLS for ``rediss://``, or a unix socket; AUTH with the URL's username/password and
SELECT of its db, within the connect timeout), holds the writes made meanwhile, and
reconnects after a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import hiredis
from redis._parsers.base import BaseParser
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, InvalidResponse
from redis.exceptions import TimeoutError as RedisTimeoutError

Reply = Any


def pack(args: Sequence[Any]) -> bytes:
    """One command in RESP, packed by hiredis (as redis-py's hiredis serializer does)."""
    name = args[0]
    if isinstance(name, str) and " " in name:  # "SCRIPT LOAD", "CLIENT LIST": one word per argument
        args = (*name.split(), *args[1:])
    try:
        packed: bytes = hiredis.pack_command(tuple(args))
    except TypeError as err:
        raise DataError(f"cannot send {args[0]!r}: {err}") from err
    return packed


@dataclass(frozen=True, slots=True)
class Target:
    """Where the server is and how to open a session on it."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # a unix socket instead of TCP
    ssl: ssl.SSLContext | None = None
    username: str | None = None
    password: str | None = None
    db: int = 0

    def handshake(self) -> list[bytes]:
        """The commands a new connection sends before any caller's."""
        commands: list[bytes] = []
        if self.password is not None:
            auth = ("AUTH", self.username, self.password) if self.username else ("AUTH", self.password)
            commands.append(pack(auth))
        if self.db:
            commands.append(pack(("SELECT", self.db)))
        return commands


class RespProtocol(asyncio.Protocol):
    """One connection: pipelined writes, replies resolved in order, one timer per write."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float | None) -> None:
        self._loop = loop
        self._timeout = timeout
        self._reader = hiredis.Reader(protocolError=InvalidResponse, replyError=BaseParser.parse_error)
        self._waiting: deque[asyncio.Future[Reply]] = deque()
        self._rounds: deque[tuple[int, asyncio.TimerHandle]] = deque()  # (replies read when it is done, timer)
        self._sent = 0
        self._read = 0
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = loop.create_future()

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.lost.done() and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports do not subclass asyncio's

    def send(self, data: bytes, futures: Sequence[asyncio.Future[Reply]]) -> None:
        """Write one buffer holding ``len(futures)`` commands; each future gets its command's reply."""
        assert self.transport is not None
        self.transport.write(data)
        self._waiting.extend(futures)
        self._sent += len(futures)
        if self._timeout is not None:
            self._rounds.append((self._sent, self._loop.call_later(self._timeout, self._expired, self._sent)))

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiting = self._waiting
        while waiting:
            try:
                reply = reader.gets()
            except InvalidResponse as err:  # out of step with the server: nothing more can be trusted
                self._give_up(RedisConnectionError(f"Redis sent a malformed reply: {err}"))
                return
            if reply is False:
                break
            self._read += 1
            future = waiting.popleft()
            if future.done():  # its caller gave up (cancelled): the reply is read and dropped
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
        rounds = self._rounds
        while rounds and rounds[0][0] <= self._read:
            rounds.popleft()[1].cancel()

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else ""
        self._fail(RedisConnectionError(f"Connection to Redis lost{reason}"))
        if not self.lost.done():
            self.lost.set_result(None)

    def _expired(self, done_at: int) -> None:
        if self._read < done_at:
            self._give_up(RedisTimeoutError(f"Redis did not answer within {self._timeout} s"))

    def _give_up(self, err: Exception) -> None:
        self._fail(err)
        if self.transport is not None:
            self.transport.abort()  # connection_lost follows, in a later callback

    def _fail(self, err: Exception) -> None:
        for _, timer in self._rounds:
            timer.cancel()
        self._rounds.clear()
        waiting, self._waiting = self._waiting, deque()
        for future in waiting:
            if not future.done():
                future.set_exception(type(err)(*err.args))


class LeanLink:
    """The one connection a client keeps to its server, reconnected after a failure."""

    def __init__(self, target: Target, *, timeout: float | None, connect_timeout: float | None) -> None:
        self.target = target
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._protocol: RespProtocol | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._held: list[tuple[bytes, list[asyncio.Future[Reply]]]] = []
        self._closed = False

    def submit(self, data: bytes, futures: list[asyncio.Future[Reply]]) -> None:
        """Send ``data`` (``len(futures)`` packed commands) now, or as soon as the connection is up."""
        protocol = self._protocol
        if protocol is not None and protocol.usable:
            protocol.send(data, futures)
            return
        if self._closed:
            _fail(futures, RedisConnectionError("the Redis client is closed"))
            return
        self._held.append((data, futures))
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        protocol: RespProtocol | None = None
        futures: list[asyncio.Future[Reply]] = []
        try:
            async with asyncio.timeout(self.connect_timeout):
                protocol = await self._open(loop)
                handshake = self.target.handshake()
                if handshake:
                    futures = [loop.create_future() for _ in handshake]
                    protocol.send(b"".join(handshake), futures)
                    for future in futures:
                        await future  # a refused AUTH raises here (AuthenticationError, a ConnectionError)
        except BaseException as err:
            _settle(futures)
            if protocol is not None and protocol.transport is not None:
                protocol.transport.abort()
            held, self._held = self._held, []
            failure = err if isinstance(err, RedisConnectionError) else RedisConnectionError(_describe(err))
            for _, futures in held:
                _fail(futures, failure)
            if not isinstance(err, Exception):
                raise
            return
        finally:
            self._connecting = None
        self._protocol = protocol
        held, self._held = self._held, []
        for data, futures in held:
            protocol.send(data, futures)

    async def _open(self, loop: asyncio.AbstractEventLoop) -> RespProtocol:
        target = self.target

        def factory() -> RespProtocol:
            return RespProtocol(loop, self.timeout)

        if target.path is not None:
            _, protocol = await loop.create_unix_connection(factory, target.path)
        else:
            hostname = target.host if target.ssl is not None else None
            _, protocol = await loop.create_connection(
                factory, target.host, target.port, ssl=target.ssl, server_hostname=hostname
            )
        return protocol

    async def aclose(self) -> None:
        """Close the connection (pending commands fail) and wait until its socket is released."""
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
            await asyncio.wait([protocol.lost], timeout=1.0)


def _fail(futures: Sequence[asyncio.Future[Reply]], err: Exception) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(type(err)(*err.args))


def _settle(futures: Sequence[asyncio.Future[Reply]]) -> None:
    """Mark the handshake's futures retrieved, so none logs "exception was never retrieved"."""
    for future in futures:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()


def _describe(err: BaseException) -> str:
    if isinstance(err, TimeoutError | asyncio.CancelledError):
        return "could not connect to Redis in time"
    return f"could not connect to Redis: {type(err).__name__}: {err}"
