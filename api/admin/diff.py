"""What changed between two rule set versions: rules added, removed, changed (with their YAML), list entries.

Read from the versions' text, not their compiled sets: a version kept only in Redis
(this worker restarted since) can be compared without compiling it, and the answer
shows each rule as its author wrote it, after layering (an override shows as the base
rule with the tenant's fields in it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from engine.pack.layering import load_layered
from engine.pack.loader import ValidatedPack


def diff(
    old: tuple[Mapping[str, str], Mapping[str, str]], new: tuple[Mapping[str, str], Mapping[str, str]]
) -> dict[str, Any]:
    """``old`` and ``new`` are (base files, tenant files) pairs."""
    before, after = load_layered(*old), load_layered(*new)
    rules_before, rules_after = _rules(before), _rules(after)
    changed = [
        {"id": rule_id, "before": _yaml(rules_before[rule_id]), "after": _yaml(rules_after[rule_id])}
        for rule_id in sorted(rules_before.keys() & rules_after.keys())
        if rules_before[rule_id] != rules_after[rule_id]
    ]
    return {
        "rules": {
            "added": [
                {"id": i, "yaml": _yaml(rules_after[i])} for i in sorted(rules_after.keys() - rules_before.keys())
            ],
            "removed": [
                {"id": i, "yaml": _yaml(rules_before[i])} for i in sorted(rules_before.keys() - rules_after.keys())
            ],
            "changed": changed,
        },
        "lists": _lists(before, after),
        "seed_lists": _seeds(before, after),
    }


def _rules(pack: ValidatedPack) -> dict[str, dict[str, Any]]:
    return {r.item.id: r.item.model_dump(mode="json", exclude_defaults=True) for r in pack.rules}


def _yaml(item: dict[str, Any]) -> str:
    return yaml.safe_dump([item], allow_unicode=True, sort_keys=False)


def _lists(before: ValidatedPack, after: ValidatedPack) -> dict[str, dict[str, list[Any]]]:
    """Per named list, the values added and removed (a new list: all added; a dropped one: all removed)."""
    out: dict[str, dict[str, list[Any]]] = {}
    for name in sorted(before.lists.keys() | after.lists.keys()):
        old = set(before.lists[name].item) if name in before.lists else set()
        new = set(after.lists[name].item) if name in after.lists else set()
        if old != new:
            out[name] = {"added": sorted(new - old, key=str), "removed": sorted(old - new, key=str)}
    return out


def _seeds(before: ValidatedPack, after: ValidatedPack) -> dict[str, list[dict[str, Any]]]:
    def entries(pack: ValidatedPack) -> set[tuple[str, str, str]]:
        return {(s.item.entity.value, s.item.kind.value, s.item.value) for s in pack.seed_lists}

    old, new = entries(before), entries(after)

    def show(found: set[tuple[str, str, str]]) -> list[dict[str, Any]]:
        return [{"entity": e, "kind": k, "value": v} for e, k, v in sorted(found)]

    return {"added": show(new - old), "removed": show(old - new)}
