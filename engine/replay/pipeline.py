"""Send many events' feature scripts in one round trip, in log order.

Replay runs ``FeatureStore.record_and_read`` unchanged, on a stand-in client: each
call's EVALSHA is queued instead of sent, and :meth:`PipelinedClient.flush` sends
every queued call in one pipeline on one connection. Redis runs a pipeline's commands
in the order they were queued, and on a single server one event's script never
depends on an earlier answer, so a batch records and reads exactly what one-by-one
calls would; only the socket round trips (and their context switches) are shared.

Calls whose request depends on an earlier answer (an ``order_paid`` marking a
referred customer's first payment, a replayed event id) must not share a batch:
the runner processes those events alone (see ``runner``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

try:  # optional: redis-py's own speed-up; without it batches go through redis-py's pipeline
    import hiredis
except ImportError:  # pragma: no cover - depends on the environment
    hiredis = None  # type: ignore[assignment]


class PipelinedClient:
    """The part of ``redis.asyncio.Redis`` the feature store's scripts use, batched."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._queue: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def evalsha(self, *args: Any) -> Any:
        return await self._enqueue(("EVALSHA", *args))

    async def eval(self, *args: Any) -> Any:
        return await self._enqueue(("EVAL", *args))

    def queue(self, *command: Any) -> asyncio.Future[Any]:
        """Queue a plain command for the next flush, in order with the scripts (replay's grant writes)."""
        return self._enqueue(command)

    def _enqueue(self, command: tuple[Any, ...]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((command, future))
        return future

    async def flush(self) -> None:
        """Send every queued call in one pipeline; each caller gets its own answer or error."""
        queue, self._queue = self._queue, []
        if not queue:
            return
        try:
            results = await (self._send_packed(queue) if hiredis is not None else self._send_pipeline(queue))
        except Exception as err:  # the connection failed: every caller sees it
            for _, future in queue:
                future.set_exception(err)
            return
        for (_, future), result in zip(queue, results, strict=True):
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _send_pipeline(self, queue: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for command, _ in queue:
                pipe.execute_command(*command)
            return list(await pipe.execute(raise_on_error=False))

    async def _send_packed(self, queue: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> list[Any]:
        """hiredis packs the whole batch in C (redis-py packs argument by argument in Python)."""
        assert hiredis is not None
        packed = b"".join(hiredis.pack_command(command) for command, _ in queue)
        pool = self._client.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await connection.send_packed_command(packed, check_health=False)
            results: list[Any] = []
            for _ in queue:
                try:
                    results.append(await connection.read_response())
                except ResponseError as err:  # one script failed (NOSCRIPT...): only its caller sees it
                    results.append(err)
            return results
        except BaseException:
            await connection.disconnect()  # replies may be left unread: never reuse this connection
            raise
        finally:
            await pool.release(connection)
