"""Where yutang's log lines go and what each one carries: one handler, JSON or text, the request's id.

``yutang serve``, ``yutang worker`` and the other commands configure logging here,
once per process (uvicorn applies the same ``dictConfig`` in each of its workers):

- **Format.** ``YUTANG_LOG_FORMAT=json`` (one JSON object per line, python-json-logger:
  what a container's log collector parses) or ``text`` (for people at a terminal);
  unset, JSON unless stderr is a terminal. Every line has ``time`` (UTC, ISO 8601),
  ``level``, ``logger``, ``message`` and, while a request is being answered, its
  ``request_id`` (:class:`RequestIdFilter`), so a warning deep in a request and its
  access line can be joined.
- **What never goes in.** A line is built from route templates, ids of the
  deployment's own making (rule set versions, rule ids, tenants), event types and
  decisions; never from a body, a header other than the validated request id and
  ``traceparent``, or a client address. Phones, e-mails, addresses, IPs and keys stay
  out by construction, and tests/api/test_logs.py greps a real server's lines for the
  values it sent.

Per-request fields live in one mutable :class:`RequestLog` behind a ``ContextVar``:
the request middleware (api/request_log.py) sets it, code that learns the tenant or
the decision adds to it with :func:`note`. Mutating the object, not re-setting the
variable, is what makes a field set in a thread-pool dependency visible to the
middleware's access line.
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS

Format = Literal["json", "text"]
FORMATS: tuple[Format, ...] = ("json", "text")


@dataclass(slots=True)
class RequestLog:
    """What the access line of one request says beyond method, route, status and duration."""

    request_id: str
    trace_id: str | None = None
    tenant: str | None = None
    event_type: str | None = None
    decision: str | None = None
    error: str | None = None  # the error code of a 4xx / 5xx answer (api/errors.py error_body)
    degraded: bool | None = None  # a scored answer given without (all of) Redis


CURRENT: ContextVar[RequestLog | None] = ContextVar("yutang_request_log", default=None)


def note(**fields: str | bool | None) -> None:
    """Add ``fields`` (tenant, event_type, decision, error, degraded) to the current request's access line, if any."""
    current = CURRENT.get()
    if current is not None:
        for name, value in fields.items():
            setattr(current, name, value)


def current_request_id() -> str | None:
    current = CURRENT.get()
    return current.request_id if current is not None else None


class RequestIdFilter(logging.Filter):
    """Stamp every record logged during a request with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = CURRENT.get()
        if current is not None and not hasattr(record, "request_id"):
            record.request_id = current.request_id
        return True


_STANDARD = frozenset(RESERVED_ATTRS) | {"message", "asctime", "color_message"}


class TextFormatter(logging.Formatter):
    """``2026-12-02T13:57:00.123Z INFO yutang.access: POST /v1/score 200  request_id=... tenant=...``."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record.created)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD and v is not None]
        if not extras:
            return line
        head, sep, tail = line.partition("\n")  # a traceback stays below the fields
        return f"{head}  {' '.join(extras)}{sep}{tail}"


def _utc(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def resolve_format(value: str | None = None, stream: TextIO | None = None) -> Format:
    """The format asked for (``YUTANG_LOG_FORMAT``), else JSON unless ``stream`` (stderr) is a terminal."""
    value = (value if value is not None else os.environ.get("YUTANG_LOG_FORMAT", "")).strip().lower()
    if value in FORMATS:
        return value
    if value:
        raise ValueError(f"YUTANG_LOG_FORMAT must be json or text, not {value!r}")
    stream = stream or sys.stderr
    return "text" if stream.isatty() else "json"


def log_config(fmt: Format, level: str = "info") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` for ``fmt``: one stderr handler on the root logger, uvicorn's through it."""
    formatters = {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["levelname", "name", "process", "message"],
            "rename_fields": {"levelname": "level", "name": "logger", "process": "pid"},
            "reserved_attrs": [*RESERVED_ATTRS, "color_message"],  # uvicorn's ANSI copy of its message
            "timestamp": "time",
        },
        "text": {"()": "engine.logs.TextFormatter", "fmt": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "engine.logs.RequestIdFilter"}},
        "formatters": {fmt: formatters[fmt]},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": fmt,
                "filters": ["request_id"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own lines (start, stop, its errors) through the same handler; its access log is ours
            "uvicorn": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }


def configure(fmt: str | None = None, level: str = "info") -> Format:
    """Install the handler for this process; returns the format chosen."""
    chosen = resolve_format(fmt)
    logging.config.dictConfig(log_config(chosen, level))
    return chosen
