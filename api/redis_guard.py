"""Every Redis call of a request goes through ``RedisGuard.call``: bounded, counted, breaker.

A call that fails or times out raises ``StoreUnavailable`` and opens a short
breaker: for ``breaker_s`` the next calls fail at once instead of each waiting out
the timeout, so an outage costs one timeout, not one per request. After that the
next call tries Redis again, which is how the service recovers by itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.metrics import Metrics
from engine.errors import StoreUnavailable

T = TypeVar("T")


class RedisGuard:
    """Timeout + error accounting + breaker around awaitables that talk to Redis."""

    def __init__(self, *, metrics: Metrics, timeout_s: float, breaker_s: float) -> None:
        self.metrics = metrics
        self.timeout_s = timeout_s
        self.breaker_s = breaker_s
        self._open_until = 0.0

    @property
    def open(self) -> bool:
        return time.monotonic() < self._open_until

    async def call(self, operation: str, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` within the timeout, or raise StoreUnavailable."""
        if self.open:
            _close(awaitable)
            self.metrics.redis_errors.labels(operation, "breaker_open").inc()
            raise StoreUnavailable(f"redis unavailable ({operation}): breaker open after a recent failure")
        try:
            async with asyncio.timeout(self.timeout_s):  # no extra task, unlike wait_for
                return await awaitable
        except (TimeoutError, RedisTimeoutError) as err:
            raise self._failed(operation, "timeout", err) from err
        except (RedisConnectionError, OSError) as err:
            raise self._failed(operation, "connection", err) from err
        except RedisError as err:  # a script or command error: report it, keep the breaker shut
            self.metrics.redis_errors.labels(operation, "other").inc()
            raise StoreUnavailable(f"redis error ({operation}): {err}") from err
        except StoreUnavailable as err:
            raise self._failed(operation, "connection", err) from err

    def _failed(self, operation: str, kind: str, err: BaseException) -> StoreUnavailable:
        self.metrics.redis_errors.labels(operation, kind).inc()
        self._open_until = time.monotonic() + self.breaker_s
        return StoreUnavailable(f"redis unavailable ({operation}, {kind}): {err}")


def _close(awaitable: Awaitable[object]) -> None:
    """Close a never-awaited coroutine so it does not warn."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()
