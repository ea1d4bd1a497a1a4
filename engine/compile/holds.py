"""An offer's ``hold:`` -> ``Hold``: which outcome releases it and when it is voided.

Any offer may be held, not only a referral reward: a newcomer gift held ``until:
order_paid`` goes out only once the beneficiary has paid for something, so an account
made to collect gifts never collects one. ``until`` / ``void_after`` are the spelling
to write; ``release_on`` / ``void_after_days`` stay readable (the older packs).

``return_window`` (with ``until: order_paid`` only): the paid order starts the window and
the hold is released once it passes without a refund; a refund within it voids the hold.
A merchant who releases a referral gift on the friend's payment pays a hired buyer's
refunded order (刷单) nothing.
"""

from __future__ import annotations

from engine.diagnostics import Code, Diagnostic, did_you_mean
from engine.events import OUTCOME_TYPES
from engine.model import Hold
from engine.pack.durations import parse_duration
from engine.pack.loader import Located
from engine.pack.schema import OfferItem

DEFAULT_VOID_DAYS = 14


def compile_hold(located: Located[OfferItem], diagnostics: list[Diagnostic]) -> Hold | None:
    """The offer's hold, each mistake reported at its own key."""
    item, subject = located.item.hold, f"offer '{located.item.id}'"
    if item is None:
        return None
    for new, old in (("until", "release_on"), ("void_after", "void_after_days")):
        if getattr(item, new) is not None and getattr(item, old) is not None:
            diagnostics.append(
                Diagnostic(
                    located.location("hold", old, key=True),
                    Code.INVALID_VALUE,
                    f"{subject}: 'hold.{new}' and 'hold.{old}' say the same thing; keep '{new}'",
                )
            )
    until = item.until or item.release_on or "order_paid"
    field = "until" if item.until is not None else "release_on"
    if until not in OUTCOME_TYPES:
        diagnostics.append(
            Diagnostic(
                located.location("hold", field),
                Code.UNKNOWN_EVENT_TYPE,
                f"{subject}: unknown outcome type '{until}'{did_you_mean(until, OUTCOME_TYPES)}; "
                f"one of {', '.join(sorted(OUTCOME_TYPES))}",
            )
        )
    days = item.void_after_days or DEFAULT_VOID_DAYS
    window = _return_window(located, until, diagnostics)
    if item.void_after is not None:
        try:
            seconds = parse_duration(item.void_after)
        except ValueError as err:
            diagnostics.append(Diagnostic(located.location("hold", "void_after"), Code.BAD_WINDOW, f"{subject}: {err}"))
            seconds = days * 86400
        return Hold(until, max(1, -(-seconds // 86400)), seconds, window)
    return Hold(until, days, days * 86400, window)


def _return_window(located: Located[OfferItem], until: str, diagnostics: list[Diagnostic]) -> int:
    """``return_window``: how long a paid order must go unrefunded to earn the hold (0: none)."""
    item, subject = located.item.hold, f"offer '{located.item.id}'"
    if item is None or item.return_window is None:
        return 0
    where = located.location("hold", "return_window")
    if until != "order_paid":
        message = f"{subject}: 'hold.return_window' counts from a paid order; it needs 'until: order_paid', not {until}"
        diagnostics.append(Diagnostic(where, Code.INVALID_VALUE, message))
        return 0
    try:
        seconds = parse_duration(item.return_window)
    except ValueError as err:
        diagnostics.append(Diagnostic(where, Code.BAD_WINDOW, f"{subject}: {err}"))
        return 0
    if not 0 < seconds <= 90 * 86400:
        diagnostics.append(Diagnostic(where, Code.BAD_WINDOW, f"{subject}: 'hold.return_window' must be 1s to 90d"))
        return 0
    return seconds
