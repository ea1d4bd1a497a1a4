"""``Yutang`` and ``AsyncYutang``: the same calls, one blocking, one awaitable."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal
from urllib.parse import quote

import httpx

from api.client.errors import YutangError
from api.client.models import Decision, OutcomeAnswer, OutcomeEvent, ScoreAnswer, ScoreEvent, fallback_answer
from api.client.policy import TRANSIENT, Retry, should_retry, unreachable

OnUnreachable = Decision | Literal["raise"]


def customer_path(customer: str) -> str:
    """``/v1/customers/<customer>`` with the id as one path segment, whatever it holds.

    A customer id is the storefront's data, often the farmer's own choice: pasted into
    the path as it is, ``../keys`` or ``x/../../audit`` made the client (httpx resolves
    dot segments) send the storefront's key to ``GET /v1/keys`` or ``/v1/audit`` and
    hand back that answer as the "customer". Every reserved character is escaped, dots
    too, so the id can never leave its segment.
    """
    return "/v1/customers/" + quote(customer, safe="").replace(".", "%2E")


class _Base:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 2.0,
        retry: Retry | None = None,
        on_unreachable: OnUnreachable = "raise",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.timeout = httpx.Timeout(timeout_s)
        self.retry = retry or Retry()
        self.on_unreachable = on_unreachable

    def _give_up(self, event: ScoreEvent, last: httpx.Response | Exception) -> ScoreAnswer:
        if self.on_unreachable == "raise":
            if isinstance(last, httpx.Response):
                raise YutangError.of(last)
            raise last
        return fallback_answer(event, self.on_unreachable, unreachable(last))

    @staticmethod
    def _score_answer(response: httpx.Response) -> ScoreAnswer:
        if not response.is_success:
            raise YutangError.of(response)
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        return ScoreAnswer.model_validate({**response.json(), "replayed": replayed})

    @staticmethod
    def _outcome_answer(response: httpx.Response) -> OutcomeAnswer:
        if not response.is_success:
            raise YutangError.of(response)
        replayed = response.headers.get("Idempotent-Replayed") == "true"
        return OutcomeAnswer.model_validate({**response.json(), "replayed": replayed})


class Yutang(_Base):
    """A blocking client; one connection pool per instance (use it as a context manager, or ``close()``)."""

    def __init__(self, base_url: str, api_key: str, *, transport: httpx.BaseTransport | None = None, **kw: Any) -> None:
        super().__init__(base_url, api_key, **kw)
        self.http = httpx.Client(
            base_url=self.base_url, headers=self.headers, timeout=self.timeout, transport=transport
        )

    def score(self, event: ScoreEvent) -> ScoreAnswer:
        """The decision, tier and offers for ``event``; the fallback answer when yutang stays unreachable."""
        last = self._send("/v1/score", event)
        if isinstance(last, httpx.Response) and not should_retry(last):
            return self._score_answer(last)
        return self._give_up(event, last)

    def record(self, event: OutcomeEvent) -> OutcomeAnswer:
        """Record an outcome (order_paid, refund, label...); raises when yutang stays unreachable."""
        last = self._send("/v1/events", event)
        if isinstance(last, Exception):
            raise last
        return self._outcome_answer(last)

    def customer(self, customer: str) -> dict[str, Any]:
        response = self.http.get(customer_path(customer))
        if not response.is_success:
            raise YutangError.of(response)
        return dict(response.json())

    def _send(self, path: str, event: ScoreEvent | OutcomeEvent) -> httpx.Response | Exception:
        body: dict[str, Any] = event.body()
        last: httpx.Response | Exception | None = None
        for attempt in range(self.retry.retries + 1):
            if attempt:
                time.sleep(self.retry.delay(attempt - 1, last if isinstance(last, httpx.Response) else None))
            try:
                last = self.http.post(path, json=body)
            except TRANSIENT as err:
                last = err
                continue
            if not should_retry(last):
                return last
        assert last is not None
        return last

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Yutang:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncYutang(_Base):
    """The asyncio client: the same calls, awaited."""

    def __init__(
        self, base_url: str, api_key: str, *, transport: httpx.AsyncBaseTransport | None = None, **kw: Any
    ) -> None:
        super().__init__(base_url, api_key, **kw)
        self.http = httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=self.timeout, transport=transport
        )

    async def score(self, event: ScoreEvent) -> ScoreAnswer:
        last = await self._send("/v1/score", event)
        if isinstance(last, httpx.Response) and not should_retry(last):
            return self._score_answer(last)
        return self._give_up(event, last)

    async def record(self, event: OutcomeEvent) -> OutcomeAnswer:
        last = await self._send("/v1/events", event)
        if isinstance(last, Exception):
            raise last
        return self._outcome_answer(last)

    async def customer(self, customer: str) -> dict[str, Any]:
        response = await self.http.get(customer_path(customer))
        if not response.is_success:
            raise YutangError.of(response)
        return dict(response.json())

    async def _send(self, path: str, event: ScoreEvent | OutcomeEvent) -> httpx.Response | Exception:
        body: dict[str, Any] = event.body()
        last: httpx.Response | Exception | None = None
        for attempt in range(self.retry.retries + 1):
            if attempt:
                await asyncio.sleep(self.retry.delay(attempt - 1, last if isinstance(last, httpx.Response) else None))
            try:
                last = await self.http.post(path, json=body)
            except TRANSIENT as err:
                last = err
                continue
            if not should_retry(last):
                return last
        assert last is not None
        return last

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncYutang:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
