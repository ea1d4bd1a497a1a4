"""The server's clock governs money and velocity: how far an event's own time may stray.

Caps, periods, windows and velocity counters all read the event's timestamp, so a
caller that could send any time could back-date claims past a daily cap or into a
red-packet hour of another day, and an outcome dated years back could keep a payer
"new". ``/v1/score`` and ``/v1/events`` therefore accept a timestamp only
within ``event_time_skew_s`` of this host's clock (default 5 minutes: queueing and
clock drift of a storefront, no more). Loading history is replay's job, on an
isolated store; a deployment started with ``YUTANG_TRUST_EVENT_TIME=1`` (backfills,
simulations through the HTTP API) takes times as sent. Group-buys do not read the
event's time at all: a group's deadline and a join's moment are the server's.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from api.errors import TimestampOutOfRange
from api.settings import Settings
from engine.events import Event


def event_time_error(settings: Settings, event: Event, *, now: float | None = None) -> TimestampOutOfRange | None:
    """The 422 for an event time outside the skew bound, or None when it is accepted."""
    return moment_error(
        settings, event.epoch, shown=event.timestamp.isoformat(), now=now,
        hint="Load history with `yutang replay`.",
    )  # fmt: skip


def moment_error(
    settings: Settings, epoch: float, *, shown: str, hint: str, now: float | None = None
) -> TimestampOutOfRange | None:
    """The 422 for a caller's moment (``shown`` as sent) outside the skew bound; None when it is accepted.

    Also the bound on a WeCom callback's signed timestamp (api/wecom/service.py).
    """
    if settings.trust_event_time:
        return None
    now = time.time() if now is None else now
    bound = settings.event_time_skew_s
    off = epoch - now
    if abs(off) <= bound:
        return None
    clock = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
    side = "ahead of" if off > 0 else "behind"
    message = (
        f"timestamp: {shown} is {abs(off):.0f} s {side} the server's clock ({clock}); "
        f"accepted within ±{bound} s (YUTANG_EVENT_TIME_SKEW_S). {hint}"
    )
    return TimestampOutOfRange(
        message,
        extra={
            "fields": [{"field": "timestamp", "message": f"must be within ±{bound} s of {clock}"}],
            "bound_s": bound,
        },
    )
