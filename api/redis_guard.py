"""Every Redis call of a request goes through ``RedisGuard.call``: bounded, counted, breaker.

A call that fails or times out raises ``StoreUnavailable`` and opens a short
breaker: for ``breaker_s`` the next calls fail at once instead of each waiting out
the timeout, so an outage costs one timeout, not one per request. After that the
next call tries Redis again, which is how the service recovers by itself. A cluster that
still answers CLUSTERDOWN / TRYAGAIN after the client's retries is an outage too (those are
``ResponseError``s, but no other call would fare better).

The time bound is the client's where it has one: the engine's client times each round
trip, once, on one server or on each master of a cluster (engine/datastore/wire.py), so
the guard adds no timer of its own (``timeout_s=None``). A second timer per call would cost
a timer per command and, worse, fire in the same loop pass as replies that arrived while
the worker was busy, failing open on events Redis answered in time. Any other client gets ``timeout_s`` on top of
redis-py's socket timeout.

The outage is logged once per worker, not per request: a WARNING when the first call
fails (Redis lost, breaker open), an INFO when a call succeeds again (Redis back,
breaker closed) with how long it was gone and how many calls failed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

from redis.exceptions import ClusterError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.metrics import Metrics
from engine.errors import StoreUnavailable

T = TypeVar("T")
log = logging.getLogger("yutang.redis")


class RedisGuard:
    """Timeout + error accounting + breaker around awaitables that talk to Redis."""

    def __init__(self, *, metrics: Metrics, timeout_s: float | None, breaker_s: float) -> None:
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.breaker_s = breaker_s
        self._open_until = 0.0
        self._lost_at: float | None = None  # when the current outage began (None: Redis answers)
        self._failed_calls = 0

    @property
    def open(self) -> bool:
        return time.monotonic() < self._open_until

    async def call(self, operation: str, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` (within ``timeout_s`` when set), or raise StoreUnavailable."""
        if self.open:
            _close(awaitable)
            self._failed_calls += 1
            self.metrics.redis_errors.labels(operation, "breaker_open").inc()
            raise StoreUnavailable(f"redis unavailable ({operation}): breaker open after a recent failure")
        try:
            if self.timeout_s is None:
                result = await awaitable
            else:
                async with asyncio.timeout(self.timeout_s):  # no extra task, unlike wait_for
                    result = await awaitable
        except (TimeoutError, RedisTimeoutError) as err:
            raise self._failed(operation, "timeout", err) from err
        except (RedisConnectionError, OSError, ClusterError) as err:
            raise self._failed(operation, "connection", err) from err
        except RedisError as err:  # a script or command error: report it, keep the breaker shut
            self.metrics.redis_errors.labels(operation, "other").inc()
            raise StoreUnavailable(f"redis error ({operation}): {err}") from err
        except StoreUnavailable as err:
            refused = isinstance(err.__cause__, ResponseError) and not isinstance(err.__cause__, ClusterError)
            if refused:  # Redis answered, refusing one call: breaker stays shut
                self.metrics.redis_errors.labels(operation, "other").inc()
                raise
            raise self._failed(operation, "connection", err) from err
        if self._lost_at is not None:
            self._back()
        return result

    def _failed(self, operation: str, kind: str, err: BaseException) -> StoreUnavailable:
        self.metrics.redis_errors.labels(operation, kind).inc()
        self._open_until = time.monotonic() + self.breaker_s
        self._failed_calls += 1
        if self._lost_at is None:
            self._lost_at = time.monotonic()
            log.warning("Redis lost (%s, %s: %r); circuit breaker open, answers are degraded", operation, kind, err)
        return StoreUnavailable(f"redis unavailable ({operation}, {kind}): {err}")

    def _back(self) -> None:
        assert self._lost_at is not None
        gone = time.monotonic() - self._lost_at
        failed = self._failed_calls
        log.info("Redis back after %.1f s (%d calls failed meanwhile); circuit breaker closed", gone, failed)
        self._lost_at, self._failed_calls = None, 0


def _close(awaitable: Awaitable[object]) -> None:
    """Close a never-awaited coroutine so it does not warn."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()
