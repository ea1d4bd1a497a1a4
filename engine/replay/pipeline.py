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
            async with self._client.pipeline(transaction=False) as pipe:
                for command, _ in queue:
                    pipe.execute_command(*command)
                results = await pipe.execute(raise_on_error=False)
        except Exception as err:  # the connection failed: every caller sees it
            for _, future in queue:
                future.set_exception(err)
            return
        for (_, future), result in zip(queue, results, strict=True):
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
