"""What a client does with each attempt's result: keep it, retry it, or give up. Shared by sync and async.

Retried: connection failures and timeouts (the request may or may not have arrived:
the same event id makes that safe), 502/503/504, and 409 ``in_progress`` (the first
copy is still being evaluated). Everything else is the answer, or a ``YutangError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from api.client.errors import YutangError

RETRIED_STATUSES = frozenset({502, 503, 504})
#: Errors after which the request may be sent again: it either never arrived or is answered by its event id.
TRANSIENT = (httpx.TransportError,)


@dataclass(frozen=True, slots=True)
class Retry:
    retries: int = 2
    backoff_s: float = 0.2  # doubled after each retry
    max_wait_s: float = 2.0  # a server's Retry-After is honoured up to this

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None and (after := response.headers.get("Retry-After", "")).isdigit():
            return min(float(after), self.max_wait_s)
        return float(min(self.backoff_s * 2**attempt, self.max_wait_s))


def should_retry(response: httpx.Response) -> bool:
    if response.status_code in RETRIED_STATUSES:
        return True
    if response.status_code == 409:
        try:
            return bool(response.json()["error"]["code"] == "in_progress")
        except (ValueError, KeyError, TypeError):
            return False
    return False


def unreachable(last: httpx.Response | Exception) -> str:
    """Why the last attempt failed, for a fallback answer's ``degraded_reason``."""
    if isinstance(last, httpx.Response):
        return str(YutangError.of(last))
    return f"{type(last).__name__}: {last}"[:300]
