"""One builder for the feature tests' events that carry a user agent (the handset and model features).

A customer or device left out is a new one per event: a farmer resetting the phone's device id
between accounts (改机), or a rack's instances each signing up a new account. The agent rides in
the attributes, as a storefront relays it; ``None`` sends none.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import count

from feature_stream import START

from engine.events import Event

_n = count()


def agent_event(
    prefix: str,
    kind: str,
    user_agent: str | None,
    seconds: float,
    *,
    customer: str | None = None,
    device: str | None = None,
    ip: str | None = None,
) -> Event:
    """Build one event ``seconds`` after START with this user agent, its id ``prefix`` and a number."""
    return Event(
        event_id=f"{prefix}{next(_n)}",
        type=kind,
        customer=customer or f"c{next(_n)}",
        device=device or f"d{next(_n)}",
        ip=ip,
        campaign="newcomer_gift" if kind == "coupon_claim" else None,
        attributes={} if user_agent is None else {"user_agent": user_agent},
        timestamp=START + timedelta(seconds=seconds),
    )
