"""``tiers:``, ``rules:`` and ``offers:`` items -> compiled Tier, Rule and Offer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from typing import Protocol

from engine.compile.conditions import compile_condition
from engine.compile.holds import compile_hold
from engine.compile.offer_terms import compile_experiment, compile_group_buy, compile_reservation
from engine.diagnostics import Code, Diagnostic, Severity, did_you_mean
from engine.events import SCORED_TYPES
from engine.expr.checker import Scope
from engine.expr.tree import Const, names_read, render
from engine.model import Budget, Decision, Effect, Offer, Rule, Tier, TimeWindow
from engine.pack.durations import parse_daily_range
from engine.pack.loader import Located
from engine.pack.schema import OfferItem, RuleItem, TierItem


def check_event_types(
    located: Located[object],
    field: str,
    values: Iterable[str],
    allowed: frozenset[str],
    diagnostics: list[Diagnostic],
    subject: str,
) -> frozenset[str]:
    good: set[str] = set()
    for index, value in enumerate(values):
        if value in allowed:
            good.add(value)
            continue
        hint = did_you_mean(value, allowed)
        diagnostics.append(
            Diagnostic(
                located.location(field, index),
                Code.UNKNOWN_EVENT_TYPE,
                f"{subject}: unknown event type '{value}'{hint}; one of {', '.join(sorted(allowed))}",
            )
        )
    return frozenset(good)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


def check_unique_ids(items: Iterable[Located[_Identified]], kind: str, diagnostics: list[Diagnostic]) -> None:
    first: dict[str, Located[_Identified]] = {}
    for located in items:
        item_id = str(located.item.id)
        if item_id in first:
            where = first[item_id].location("id").render()
            diagnostics.append(
                Diagnostic(
                    located.location("id"), Code.DUPLICATE_ID, f"{kind} id '{item_id}' is already used at {where}"
                )
            )
        else:
            first[item_id] = located


def compile_tiers(items: list[Located[TierItem]], scope: Scope, diagnostics: list[Diagnostic]) -> tuple[Tier, ...]:
    check_unique_ids(items, "tier", diagnostics)
    tiers: list[Tier] = []
    catch_all: str | None = None
    seen_conditions: dict[str, str] = {}
    for located in items:
        item = located.item
        if catch_all is not None:
            diagnostics.append(
                Diagnostic(
                    located.location("id"),
                    Code.UNREACHABLE_TIER,
                    f"tier '{item.id}' can never be chosen: tier '{catch_all}' before it matches every customer",
                )
            )
        condition = None
        if item.when is not None:
            condition = compile_condition(located, "when", item.when, scope, diagnostics, f"tier '{item.id}'")
            if condition is None:
                continue
            text = render(condition)
            if text in seen_conditions and catch_all is None:
                diagnostics.append(
                    Diagnostic(
                        located.location("when"),
                        Code.UNREACHABLE_TIER,
                        f"tier '{item.id}' can never be chosen:"
                        f" tier '{seen_conditions[text]}' before it has the same condition",
                    )
                )
            seen_conditions.setdefault(text, item.id)
            if isinstance(condition, Const) and condition.value is True:
                catch_all = catch_all or item.id
        else:
            catch_all = catch_all or item.id
        tiers.append(Tier(item.id, item.label or item.id, condition, located.location("id")))
    defaults = [located for located in items if located.item.default]
    if items and not defaults:
        diagnostics.append(
            Diagnostic(
                items[-1].location("id"),
                Code.NO_DEFAULT_TIER,
                "no tier has 'default: true'; add one so every customer gets a tier",
            )
        )
    for extra in defaults[1:]:
        diagnostics.append(
            Diagnostic(
                extra.location("default"),
                Code.UNREACHABLE_TIER,
                f"tier '{extra.item.id}' is a second default; only the first default can be chosen",
            )
        )
    return tuple(tiers)


def compile_rules(
    items: list[Located[RuleItem]], scope: Scope, diagnostics: list[Diagnostic], today: date
) -> tuple[Rule, ...]:
    check_unique_ids(items, "rule", diagnostics)
    codes: dict[int, Located[RuleItem]] = {}
    rules: list[Rule] = []
    for located in items:
        item = located.item
        subject = f"rule '{item.id}'"
        if item.code in codes and codes[item.code].item.id != item.id:
            where = codes[item.code].location("code").render()
            diagnostics.append(
                Diagnostic(
                    located.location("code"),
                    Code.DUPLICATE_CODE,
                    f"{subject}: code {item.code} is already used by rule '{codes[item.code].item.id}' at {where}",
                )
            )
        codes.setdefault(item.code, located)
        on = check_event_types(located, "on", item.on, SCORED_TYPES, diagnostics, subject)
        condition = compile_condition(located, "when", item.when, scope, diagnostics, subject)
        if item.expires is not None and item.expires <= today:
            diagnostics.append(
                Diagnostic(
                    located.location("expires"),
                    Code.EXPIRED_RULE,
                    f"{subject} expired on {item.expires} and is skipped",
                    Severity.WARNING,
                )
            )
        if condition is None:
            continue
        rules.append(
            Rule(
                id=item.id,
                code=item.code,
                on=on,
                condition=condition,
                score=item.score,
                decision=item.decision,
                reason_zh=item.reason.zh,
                reason_en=item.reason.en,
                mode=item.mode,
                expires=item.expires,
                reads=tuple(names_read(condition)),
                location=located.location("id"),
            )
        )
    return tuple(rules)


def compile_offers(
    items: list[Located[OfferItem]],
    scope: Scope,
    tier_ids: frozenset[str],
    default_withhold: frozenset[Decision],
    zone: tzinfo,
    diagnostics: list[Diagnostic],
) -> tuple[Offer, ...]:
    check_unique_ids(items, "offer", diagnostics)
    offers: list[Offer] = []
    for located in items:
        item = located.item
        subject = f"offer '{item.id}'"
        failed = len(diagnostics)
        for index, tier in enumerate(item.tiers):
            if tier not in tier_ids:
                diagnostics.append(
                    Diagnostic(
                        located.location("tiers", index),
                        Code.UNKNOWN_TIER,
                        f"{subject}: unknown tier '{tier}'{did_you_mean(tier, tier_ids)}",
                    )
                )
        on = check_event_types(located, "on", item.on, SCORED_TYPES, diagnostics, subject)
        _check_referral_beneficiary(located, diagnostics, subject)
        condition = None
        if item.when is not None:
            condition = compile_condition(located, "when", item.when, scope, diagnostics, subject)
        window = _offer_window(located, zone, diagnostics, subject)
        hold = compile_hold(located, diagnostics)
        effect = Effect(item.effect.type, item.effect.value, item.effect.description or item.label)
        reserve = compile_reservation(located, diagnostics)
        experiment = compile_experiment(located, effect, diagnostics)
        group_buy = compile_group_buy(located, diagnostics)
        if len(diagnostics) > failed and any(d.is_error for d in diagnostics[failed:]):
            continue
        b = item.budget
        budget = Budget(b.total, b.per_customer, b.per_day, b.per_week, b.per_month, b.customer_period)
        withhold = frozenset(item.withhold_on) if item.withhold_on is not None else default_withhold
        offers.append(
            Offer(
                id=item.id,
                label=item.label or item.id,
                tiers=frozenset(item.tiers),
                on=on,
                condition=condition,
                effect=effect,
                priority=item.priority,
                exclusive_group=item.group,
                window=window,
                budget=budget,
                withhold_on=withhold,
                hold=hold,
                beneficiary=item.beneficiary,
                location=located.location("id"),
                reserve=reserve,
                experiment=experiment,
                group_buy=group_buy,
                value_yuan=item.value_yuan,
            )
        )
    return tuple(offers)


def _check_referral_beneficiary(located: Located[OfferItem], diagnostics: list[Diagnostic], subject: str) -> None:
    """Warn when an offer given on referral events leaves its receiver to the default.

    On a referral the event's customer is the invitee; a gift meant for the inviter
    that forgets ``beneficiary: referrer`` silently goes to the friend instead.
    """
    item = located.item
    if "beneficiary" in item.model_fields_set or (item.on and "referral" not in item.on):
        return
    where = located.location("on", item.on.index("referral")) if item.on else located.location("id")
    scope = "referral events" if item.on else "every event type, referral included,"
    diagnostics.append(
        Diagnostic(
            where,
            Code.IMPLICIT_BENEFICIARY,
            f"{subject} is given on {scope} but names no beneficiary, so it goes to the invitee (the event's "
            "customer); say 'beneficiary: referrer' for the inviter's reward or 'beneficiary: customer' for the "
            "invitee's",
            Severity.WARNING,
        )
    )


def _offer_window(
    located: Located[OfferItem], zone: tzinfo, diagnostics: list[Diagnostic], subject: str
) -> TimeWindow | None:
    window = located.item.window
    if window is None:
        return None
    starts, ends = _aware(window.starts, zone), _aware(window.ends, zone)
    if starts and ends and starts >= ends:
        diagnostics.append(
            Diagnostic(
                located.location("window", "ends"),
                Code.BAD_WINDOW,
                f"{subject}: window ends ({ends}) before it starts ({starts})",
            )
        )
    daily_from = daily_to = None
    if window.daily:
        try:
            daily_from, daily_to = parse_daily_range(window.daily)
        except ValueError as err:
            diagnostics.append(Diagnostic(located.location("window", "daily"), Code.BAD_WINDOW, f"{subject}: {err}"))
    return TimeWindow(starts, ends, daily_from, daily_to)


def _aware(moment: datetime | None, zone: tzinfo) -> datetime | None:
    """A time written without an offset is in the pack's time zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=zone)
