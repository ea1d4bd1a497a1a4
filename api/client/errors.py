"""The one error a client call raises for an answer yutang gave on purpose (4xx, or 5xx after retries)."""

from __future__ import annotations

from typing import Any

import httpx


class YutangError(Exception):
    """yutang refused the request: ``status``, its stable ``code``, the message and the fields it names."""

    def __init__(self, status: int, code: str, message: str, fields: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.fields = status, code, message, fields or []

    @classmethod
    def of(cls, response: httpx.Response) -> YutangError:
        try:
            error = response.json()["error"]
            return cls(response.status_code, str(error["code"]), str(error["message"]), error.get("fields"))
        except (ValueError, KeyError, TypeError):
            return cls(response.status_code, "http_error", response.text[:300])
