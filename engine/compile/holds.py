"""An offer's ``hold:`` -> ``Hold``: which outcome releases it and when it is voided.

Any offer may be held, not only a referral reward: a newcomer gift held ``until:
order_paid`` goes out only once the beneficiary has paid for something, so an account
made to collect gifts never collects one. ``until`` / ``void_after`` are the spelling
to write; ``release_on`` / ``void_after_days`` stay readable (the older packs).
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
    if item.void_after is not None:
        try:
            seconds = parse_duration(item.void_after)
        except ValueError as err:
            diagnostics.append(Diagnostic(located.location("hold", "void_after"), Code.BAD_WINDOW, f"{subject}: {err}"))
            seconds = days * 86400
        return Hold(until, max(1, -(-seconds // 86400)), seconds)
    return Hold(until, days, days * 86400)
