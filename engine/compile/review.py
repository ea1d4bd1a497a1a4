"""``review:`` and ``clawback:`` sections -> the review queue's and late evidence's policies.

Both are optional: without ``review:`` a case waits 4 hours and then stays open for a
person (``keep``); without ``clawback:`` no later outcome re-examines earlier grants.
"""

from __future__ import annotations

from collections.abc import Collection

from engine.diagnostics import Code, Diagnostic, did_you_mean
from engine.model import ClawbackPolicy, ReviewPolicy
from engine.pack.durations import parse_duration
from engine.pack.loader import Located
from engine.pack.schema import ClawbackItem, ReviewItem

#: What a denial may list. IPs never: NATs, carriers' exits and shop Wi-Fi are shared by honest customers.
LISTABLE = ("customer", "device", "phone", "address")


def compile_review(located: Located[ReviewItem] | None, diagnostics: list[Diagnostic]) -> ReviewPolicy:
    if located is None:
        return ReviewPolicy()
    item = located.item
    sla = _seconds(located, ("sla",), item.sla, diagnostics, "review.sla") or 4 * 3600
    lease = _seconds(located, ("lease",), item.lease, diagnostics, "review.lease") or 900
    block = _entities(located, ("deny", "block"), [e.value for e in item.deny.block], diagnostics)
    watch = _entities(located, ("deny", "watch"), [e.value for e in item.deny.watch], diagnostics)
    return ReviewPolicy(sla, item.on_timeout, block, watch, lease)


def compile_clawback(
    located: Located[ClawbackItem] | None, webhooks: Collection[str], diagnostics: list[Diagnostic]
) -> ClawbackPolicy:
    if located is None:
        return ClawbackPolicy()
    item = located.item
    window = _seconds(located, ("window",), item.window, diagnostics, "clawback.window") or 30 * 86400
    if item.webhook is not None and item.webhook not in webhooks:
        diagnostics.append(
            Diagnostic(
                located.location("webhook"),
                Code.UNKNOWN_WEBHOOK,
                f"clawback.webhook: unknown webhook '{item.webhook}'{did_you_mean(item.webhook, webhooks)}; "
                "declare it under 'webhooks:'",
            )
        )
    return ClawbackPolicy(frozenset(item.on), window, item.webhook, item.linked)


def _seconds(
    located: Located[object], where: tuple[str, ...], text: str, diagnostics: list[Diagnostic], what: str
) -> int | None:
    try:
        return parse_duration(text)
    except ValueError as err:
        diagnostics.append(Diagnostic(located.location(*where), Code.BAD_WINDOW, f"{what}: {err}"))
        return None


def _entities(
    located: Located[ReviewItem], where: tuple[str, ...], values: list[str], diagnostics: list[Diagnostic]
) -> tuple[str, ...]:
    good: list[str] = []
    for index, value in enumerate(values):
        if value in LISTABLE:
            good.append(value)
            continue
        why = " (an IP is shared by honest customers behind one NAT)" if value in ("ip", "subnet") else ""
        diagnostics.append(
            Diagnostic(
                located.location(*where, index),
                Code.UNKNOWN_ENTITY,
                f"review.{'.'.join(where)}: '{value}' cannot be listed by a denial{why}; one of {', '.join(LISTABLE)}",
            )
        )
    return tuple(dict.fromkeys(good))
