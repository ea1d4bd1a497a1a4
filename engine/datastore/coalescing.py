"""A Redis client that sends the commands issued in one event-loop pass as one write, on one connection.

Why: redis-py spends about 51 µs of client CPU on a command awaited on its own
(pack, write, wake up on the reply, parse) and about 19 µs on a command inside a
32-command pipeline. A busy worker has dozens of requests in flight; their tasks
resume in the same loop pass (the replies came in together) and each issues its
next script call. Coalescing those calls into one write pays the write, the wake-up
and the read once for all of them, like ioredis' auto-pipelining; the lean
connection (:mod:`engine.datastore.wire`) adds no Task and no timer per command.

Semantics are the client's own: each caller gets its command's reply, after
redis-py's response callbacks (``SET`` -> ``True``, ``HGETALL`` -> ``dict``), or its
error (a script the server lacks still raises NoScriptError for that caller alone);
a connection failure fails every command in flight on it. The time bound is one
timer per round trip (``socket_timeout``): a hung server fails every caller waiting
on it with ``TimeoutError`` within that bound. A command is sent no later than the
end of the loop pass that issued it; a bad argument fails its caller at once.
Blocking commands (BLPOP, XREAD ...) would hold up every later command; yutang sends
none. Pipelines made with :meth:`pipeline` (admin and list reads) keep redis-py's
pooled connections and per-command socket timeout. A cluster client keeps redis-py's
own routing (``RedisCluster`` is not wrapped).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis._parsers.response_callbacks import get_response_callbacks
from redis.asyncio import Redis, SSLConnection, UnixDomainSocketConnection
from redis.client import CaseInsensitiveDict
from redis.exceptions import ResponseError

from engine.datastore.wire import LeanLink, Target, pack

_EMPTY_RESPONSE = "EMPTY_RESPONSE"
_DROPPED_OPTIONS = ("keys", "NEVER_DECODE", _EMPTY_RESPONSE)


class CoalescingRedis(Redis):
    """``redis.asyncio.Redis`` whose commands leave in one write per loop pass, on one lean connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # RESP2 on every connection: the lean one speaks it (no HELLO), so the pool's must agree with the
        # callbacks (redis-py 8 defaults to RESP3; its "legacy" shapes are RESP2's, so callers see no change)
        self.connection_pool.connection_kwargs["protocol"] = 2
        self.response_callbacks = CaseInsensitiveDict(get_response_callbacks(2, legacy_responses=True))  # type: ignore[arg-type]
        self._queue: list[bytes] = []
        self._futures: list[asyncio.Future[Any]] = []
        self._link: LeanLink | None = None
        #: Writes sent and commands in them (two int adds per write): the benches' and tests' round-trip counts.
        self.round_trips = 0
        self.commands_sent = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        future = self._enqueue(pack(args))
        try:
            reply = await future
        except ResponseError:
            if _EMPTY_RESPONSE in options:
                return options[_EMPTY_RESPONSE]
            raise
        return self._parse(args[0], reply, options)

    async def send_many(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Several commands in the current write; each reply, or its ``ResponseError``, in order.

        A connection failure or timeout raises, as for a single command.
        """
        futures = [self._enqueue(pack(command)) for command in commands]
        results: list[Any] = []
        failure: BaseException | None = None
        for command, future in zip(commands, futures, strict=True):
            try:  # every future is awaited, so none logs "exception was never retrieved"
                results.append(self._parse(command[0], await future, {}))
            except ResponseError as err:
                results.append(err)
            except Exception as err:  # the round trip failed: re-raised below
                failure = failure or err
            except BaseException:  # the caller was cancelled: nobody reads the rest, so drop them
                abandon(futures)
                raise
        if failure is not None:
            raise failure
        return results

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close the lean connection, then redis-py's pool."""
        link, self._link = self._link, None
        if link is not None:
            await link.aclose()
        await super().aclose(close_connection_pool)

    def _enqueue(self, packed: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(packed)
        self._futures.append(future)
        if len(self._futures) == 1:
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        queue, futures = self._queue, self._futures
        self._queue, self._futures = [], []
        self.round_trips += 1
        self.commands_sent += len(futures)
        link = self._link or self._open_link()
        link.submit(b"".join(queue), futures)

    def _parse(self, name: Any, reply: Any, options: dict[str, Any]) -> Any:
        callback = self.response_callbacks.get(name)
        if callback is None:
            return reply
        for option in _DROPPED_OPTIONS:
            options.pop(option, None)
        return callback(reply, **options)

    def _open_link(self) -> LeanLink:
        settings = self.connection_pool.connection_kwargs
        self._link = LeanLink(
            target_of(self),
            timeout=settings.get("socket_timeout"),
            connect_timeout=settings.get("socket_connect_timeout") or settings.get("socket_timeout"),
        )
        return self._link


def abandon(futures: Sequence[asyncio.Future[Any]]) -> None:
    """Cancel the replies nobody will read, and mark the ones in as read (no "never retrieved" log)."""
    for future in futures:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()


def target_of(client: Redis) -> Target:
    """The server, credentials, db and TLS context of ``client``'s URL (as redis-py parsed it)."""
    connection = client.connection_pool.make_connection()  # type: ignore[no-untyped-call]  # only read, never connected
    common = {"username": connection.username, "password": connection.password, "db": int(connection.db)}
    if isinstance(connection, UnixDomainSocketConnection):
        return Target(path=connection.path, **common)
    context = connection.ssl_context.get() if isinstance(connection, SSLConnection) else None
    return Target(host=connection.host, port=int(connection.port), ssl=context, **common)
