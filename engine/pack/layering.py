"""A tenant's pack layered on the platform's base pack: one validated pack, conflicts as diagnostics.

A deployment serves many merchants. The platform's base pack (the rules directory)
carries what every shop shares: known bad networks, virtual phone segments, the
default abuse rules, tiers and thresholds. Each tenant may have a pack of its own
(``rules/tenants/<tenant>/`` or an upload), merged onto the base *before* compiling,
so the compiler checks the result as one pack and every diagnostic still points at
the file, line and column the text came from. The merge, declared in docs/rule-pack.md:

- ``pack:`` in the tenant's files makes them a whole pack of their own: the base is
  not read (the tenant has opted out of the platform's defaults).
- ``decision:``, ``contacts:`` in the tenant's files replace the base's section whole.
- rules, offers, journeys, community rules: the tenant's are added to the base's; a
  tenant item reusing a base id is ``LAYER_CONFLICT``, except that a rule with
  ``override: true`` changes the base rule of that id: the fields it gives (score,
  mode (``off``), decision, when, expires, reason, description) replace the base's, the
  rest (``on``, ``code``) stay. An override whose id is no base rule is ``OVERRIDE_MISSING``.
- tiers: the tenant's are checked *before* the base's (first match wins, so a tenant
  adds finer tiers above the platform's default); a reused id is ``LAYER_CONFLICT``.
- lists, attributes, features, offer groups, webhooks (named maps): added; a reused
  name is ``LAYER_CONFLICT`` (a tenant reads the base's lists and features as they are).
- seed lists: both (each written only into the tenants running the pack).
- tests: the tenant's own cases only (the base's expectations need not hold once a
  tenant tuned its rules; ``yutang test BASE`` runs those).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from engine.diagnostics import Code, Diagnostic, Location, did_you_mean
from engine.pack.loader import Located, ValidatedPack, content_version, load_sources
from engine.pack.schema import RuleItem, RuleOverrideItem

_MAPS = {
    "attributes": "attribute",
    "lists": "list",
    "features": "feature",
    "offer_groups": "offer group",
    "webhooks": "webhook",
}
_ADDED = {"offers": "offer", "journeys": "journey", "community": "community rule"}


def layered_version(base: Mapping[str, str], tenant: Mapping[str, str]) -> str:
    """The version of a base + tenant pair: differs from either alone, stable under file moves."""
    pair = f"{content_version(base)}+{content_version(tenant)}".encode()
    return hashlib.sha256(pair).hexdigest()[:12]


def load_layered(base: Mapping[str, str], tenant: Mapping[str, str] | None = None) -> ValidatedPack:
    """``base`` alone, or ``tenant`` merged onto it (or alone, when it declares ``pack:``)."""
    if not tenant:
        pack = load_sources(base)
        _no_base(pack)
        return pack
    layer = load_sources(tenant)
    if layer.meta is not None:  # a whole pack of its own
        _no_base(layer)
        return layer
    under = load_sources(base)
    _no_base(under)
    merged = merge(under, layer)
    merged.version = layered_version(base, tenant)
    return merged


def merge(base: ValidatedPack, layer: ValidatedPack) -> ValidatedPack:
    """``layer`` onto ``base`` as described in the module docstring; conflicts join the diagnostics."""
    out = ValidatedPack(files=[*base.files, *layer.files], diagnostics=[*base.diagnostics, *layer.diagnostics])
    out.meta = base.meta
    out.decision = layer.decision or base.decision
    out.contacts = layer.contacts or base.contacts
    for section, singular in _MAPS.items():
        merged: dict[str, Located[Any]] = dict(getattr(base, section))
        for name, located in getattr(layer, section).items():
            if name in merged:
                out.diagnostics.append(
                    _conflict(located.location(key=True), singular, name, merged[name].location(key=True))
                )
            else:
                merged[name] = located
        setattr(out, section, merged)
    out.tiers = [*_added(out, layer.tiers, base.tiers, "tier"), *base.tiers]
    for section, singular in _ADDED.items():
        kept = _added(out, getattr(layer, section), getattr(base, section), singular)
        setattr(out, section, [*getattr(base, section), *kept])
    out.seed_lists = [*base.seed_lists, *layer.seed_lists]
    out.tests = list(layer.tests)
    out.rules = _merge_rules(out, base.rules, layer.rules, layer.rule_overrides)
    return out


def _merge_rules(
    out: ValidatedPack,
    base: Sequence[Located[RuleItem]],
    added: Sequence[Located[RuleItem]],
    overrides: Sequence[Located[RuleOverrideItem]],
) -> list[Located[RuleItem]]:
    rules = list(base)
    index = {located.item.id: i for i, located in enumerate(base)}
    for located in added:
        if located.item.id in index:
            first = base[index[located.item.id]]
            out.diagnostics.append(
                Diagnostic(
                    located.location("id"),
                    Code.LAYER_CONFLICT,
                    f"rule '{located.item.id}' is already defined by the base pack at {first.location('id').render()};"
                    " add 'override: true' to change its score, mode, decision, when, expires or reason",
                )
            )
        else:
            rules.append(located)
    seen: dict[str, Location] = {}
    for change in overrides:
        rule_id = change.item.id
        if rule_id in seen:
            message = f"rule '{rule_id}' is already overridden at {seen[rule_id].render()}"
            out.diagnostics.append(Diagnostic(change.location("id"), Code.DUPLICATE_ID, message))
            continue
        seen[rule_id] = change.location("id")
        if rule_id not in index:
            hint = did_you_mean(rule_id, list(index))
            message = f"rule '{rule_id}' overrides no rule of the base pack{hint}"
            out.diagnostics.append(Diagnostic(change.location("id"), Code.OVERRIDE_MISSING, message))
            continue
        original = rules[index[rule_id]].item
        update = {name: getattr(change.item, name) for name in change.item.model_fields_set - {"id", "override"}}
        rules[index[rule_id]] = Located(original.model_copy(update=update), change.source, change.path)
    return rules


def _added(
    out: ValidatedPack, items: Sequence[Located[Any]], base: Sequence[Located[Any]], singular: str
) -> list[Located[Any]]:
    """The tenant's ``items`` whose id the base does not use (the others are LAYER_CONFLICT)."""
    taken = {located.item.id: located for located in base}
    kept = []
    for located in items:
        if located.item.id in taken:
            first = taken[located.item.id].location("id")
            out.diagnostics.append(_conflict(located.location("id"), singular, located.item.id, first))
        else:
            kept.append(located)
    return kept


def _conflict(where: Location, singular: str, name: str, there: Location) -> Diagnostic:
    return Diagnostic(
        where,
        Code.LAYER_CONFLICT,
        f"{singular} '{name}' is already defined by the base pack at {there.render()}; a tenant pack adds its own"
        " under another name (only rules can be overridden, with 'override: true')",
    )


def _no_base(pack: ValidatedPack) -> None:
    """A pack compiled on its own has nothing to override: each ``override: true`` is OVERRIDE_MISSING."""
    for change in pack.rule_overrides:
        message = f"rule '{change.item.id}' has 'override: true' but this pack is not layered on a base pack"
        pack.diagnostics.append(Diagnostic(change.location("id"), Code.OVERRIDE_MISSING, message))
    pack.rule_overrides = []
