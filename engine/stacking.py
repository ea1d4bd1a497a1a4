"""Stacking: how the eligible offers of one exclusivity group combine on one cart.

A group's declared policy (``offer_groups:`` in the pack) orders its offers:
``priority`` by the offers' priority, ``best_for_customer`` by the reduction on this
cart (largest first), ``best_for_merchant`` (smallest first); the ledger grants the
first one whose budget allows. ``stack_all`` grants every eligible offer and caps
the combined value at ``max_value`` (later offers give only what is left).

A percent discount's value depends on the cart (``event.amount``); an experiment
variant's effect replaces the offer's for the customers assigned to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.model import Effect, EffectType, Offer, OfferGroup, StackPolicy

#: Points are worth 1/100 yuan each when offers are compared (the usual loyalty rate).
POINT_YUAN = 0.01


def effect_for(offer: Offer, customer: str | None) -> tuple[Effect, str | None]:
    """The effect this customer gets and their experiment variant (None outside experiments)."""
    if offer.experiment is None or not customer:
        return offer.effect, None
    variant = offer.experiment.assign(customer)
    return variant.effect, variant.id


def effect_value(effect: Effect, amount: float | None) -> float:
    """What the effect is worth in yuan on a cart of ``amount`` (missing amount: 0 for percents)."""
    cart = amount or 0.0
    if effect.type is EffectType.DISCOUNT:
        return round(cart * min(effect.value, 100.0) / 100.0, 2)
    if effect.type is EffectType.TRIAL:  # the entry product at a fixed price: the reduction below the cart
        return round(max(cart - effect.value, 0.0), 2)
    if effect.type is EffectType.POINTS:
        return round(effect.value * POINT_YUAN, 2)
    if effect.type is EffectType.PRIVILEGE:
        return 0.0
    return effect.value


def offer_value(offer: Offer, amount: float | None, customer: str | None) -> float:
    return effect_value(effect_for(offer, customer)[0], amount)


def order_group(
    offers: Sequence[Offer], group: OfferGroup | None, amount: float | None, customer: str | None
) -> list[Offer]:
    """The group's offers in the order the ledger tries them (ties: priority, then declaration)."""
    by_priority = sorted(offers, key=lambda o: -o.priority)
    policy = group.policy if group else StackPolicy.PRIORITY
    if policy is StackPolicy.BEST_FOR_CUSTOMER:
        return sorted(by_priority, key=lambda o: -offer_value(o, amount, customer))
    if policy is StackPolicy.BEST_FOR_MERCHANT:
        return sorted(by_priority, key=lambda o: offer_value(o, amount, customer))
    return by_priority


def stacked_groups(groups: Mapping[str, OfferGroup]) -> frozenset[str]:
    return frozenset(g.id for g in groups.values() if g.policy is StackPolicy.STACK_ALL)


def cap_values(values: Sequence[float], max_value: float | None) -> list[float]:
    """Each value as given, cut so the running sum never passes ``max_value``."""
    if max_value is None:
        return list(values)
    left, capped = max_value, []
    for value in values:
        given = min(value, max(left, 0.0))
        capped.append(round(given, 2))
        left -= given
    return capped
