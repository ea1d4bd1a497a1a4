"""The deeper terms of an offer: reservations, experiments, group-buys, stacking groups.

Kept apart from ``engine.compile.rules`` so each concept stays small; every check
reports a diagnostic at the item's own line and never hides the next item's errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.diagnostics import Code, Diagnostic, Severity, did_you_mean
from engine.events import OUTCOME_TYPES
from engine.model import (
    Effect,
    Experiment,
    GroupBuyTerms,
    OfferGroup,
    Reservation,
    StackPolicy,
    Variant,
)
from engine.pack.durations import parse_duration
from engine.pack.loader import Located
from engine.pack.schema import OfferGroupItem, OfferItem


def compile_reservation(located: Located[OfferItem], diagnostics: list[Diagnostic]) -> Reservation | None:
    item, subject = located.item, f"offer '{located.item.id}'"
    reserve = item.reserve
    if reserve is None:
        return None
    if item.hold is not None:
        diagnostics.append(
            Diagnostic(
                located.location("reserve"),
                Code.INVALID_VALUE,
                f"{subject}: 'reserve' and 'hold' exclude each other (a referral reward is held, a checkout "
                "discount is reserved)",
            )
        )
    ttl = _duration(located, ("reserve", "ttl"), reserve.ttl, diagnostics, subject) or 1800
    for field, values in (("commit_on", [reserve.commit_on]), ("release_on", reserve.release_on)):
        for index, value in enumerate(values):
            if value not in OUTCOME_TYPES:
                where = ("reserve", field) if field == "commit_on" else ("reserve", field, index)
                diagnostics.append(
                    Diagnostic(
                        located.location(*where),
                        Code.UNKNOWN_EVENT_TYPE,
                        f"{subject}: unknown outcome type '{value}'{did_you_mean(value, OUTCOME_TYPES)}; "
                        f"one of {', '.join(sorted(OUTCOME_TYPES))}",
                    )
                )
    return Reservation(ttl, reserve.commit_on, frozenset(reserve.release_on))


def compile_experiment(located: Located[OfferItem], effect: Effect, diagnostics: list[Diagnostic]) -> Experiment | None:
    experiment = located.item.experiment
    if experiment is None:
        return None
    seen: set[str] = set()
    variants: list[Variant] = []
    for index, item in enumerate(experiment.variants):
        if item.id in seen:
            diagnostics.append(
                Diagnostic(
                    located.location("experiment", "variants", index, "id"),
                    Code.DUPLICATE_ID,
                    f"offer '{located.item.id}': variant id '{item.id}' is used twice",
                )
            )
        seen.add(item.id)
        own = effect
        if item.effect is not None:
            own = Effect(item.effect.type, item.effect.value, item.effect.description or effect.description)
        variants.append(Variant(item.id, item.weight, own))
    return Experiment(experiment.id, tuple(variants))


def compile_group_buy(located: Located[OfferItem], diagnostics: list[Diagnostic]) -> GroupBuyTerms | None:
    terms, subject = located.item.group_buy, f"offer '{located.item.id}'"
    if terms is None:
        return None
    if terms.virtual_min is not None and terms.virtual_min >= terms.size:
        diagnostics.append(
            Diagnostic(
                located.location("group_buy", "virtual_min"),
                Code.INVALID_VALUE,
                f"{subject}: virtual_min ({terms.virtual_min}) must be below the group size ({terms.size})",
            )
        )
    if located.item.on and located.item.on != ["group_buy_join"]:
        diagnostics.append(
            Diagnostic(
                located.location("on"),
                Code.INVALID_VALUE,
                f"{subject}: a group-buy offer applies to group_buy_join events only",
            )
        )
    deadline = _duration(located, ("group_buy", "within"), terms.within, diagnostics, subject) or 86400
    return GroupBuyTerms(terms.size, deadline, terms.virtual_min, terms.per_customer, terms.total_groups)


def compile_offer_groups(
    items: Mapping[str, Located[OfferGroupItem]], offers: Sequence[Located[OfferItem]], diagnostics: list[Diagnostic]
) -> dict[str, OfferGroup]:
    """Declared policies; a group offers name but nobody declared keeps ``priority``."""
    used: dict[str, list[str]] = {}
    for offer in offers:
        if offer.item.group:
            used.setdefault(offer.item.group, []).append(offer.item.id)
    _check_group_names(items, offers, used, diagnostics)
    groups: dict[str, OfferGroup] = {}
    for name, located in items.items():
        item = located.item
        if item.max_value is not None and item.policy is not StackPolicy.STACK_ALL:
            diagnostics.append(
                Diagnostic(
                    located.location("max_value"),
                    Code.INVALID_VALUE,
                    f"offer group '{name}': max_value applies to policy stack_all only",
                )
            )
        if name not in used:
            diagnostics.append(
                Diagnostic(
                    located.location(key=True),
                    Code.UNKNOWN_OFFER,
                    f"offer group '{name}' has no offers{did_you_mean(name, used)}; "
                    f"offers join it with 'group: {name}'",
                    Severity.WARNING,
                )
            )
        groups[name] = OfferGroup(name, item.policy, item.max_value)
    return groups


def _check_group_names(
    items: Mapping[str, Located[OfferGroupItem]],
    offers: Sequence[Located[OfferItem]],
    used: Mapping[str, list[str]],
    diagnostics: list[Diagnostic],
) -> None:
    """An undeclared group that only one offer names, close to another group's name, is a typo.

    Undeclared groups are allowed (exclusivity under ``priority``), so an offer whose
    ``group: chekout`` misspells a declared ``checkout`` would silently form a group of
    its own and escape the declared stacking policy. A group of one offer is never
    exclusive with anything, so a near miss of another name is reported as an error.
    """
    for offer in offers:
        name = offer.item.group
        if name is None or name in items or len(used.get(name, ())) > 1:
            continue
        others = set(items) | {g for g, ids in used.items() if g != name and len(ids) > 1}
        hint = did_you_mean(name, others)
        if hint:
            diagnostics.append(
                Diagnostic(
                    offer.location("group"),
                    Code.UNKNOWN_GROUP,
                    f"offer '{offer.item.id}': unknown offer group '{name}'{hint}; no offer_groups entry declares it "
                    "and no other offer names it, so it would form a group of its own",
                )
            )


def _duration(
    located: Located[OfferItem], where: tuple[str, ...], text: str, diagnostics: list[Diagnostic], subject: str
) -> int | None:
    try:
        return parse_duration(text)
    except ValueError as err:
        diagnostics.append(Diagnostic(located.location(*where), Code.BAD_WINDOW, f"{subject}: {err}"))
        return None
