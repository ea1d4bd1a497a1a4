"""Diff summaries for audit entries: what a rules change or a list change did.

A rule counts as changed when anything a decision depends on differs (condition,
events, score, decision, mode, expiry, reasons); moving it to another line or file
does not. Files are compared by text. List entries are named by entity, kind and the
masked hint (never a personal value in the clear: the audit trail is read by people).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.model import Rule
from engine.rule_engine import LoadedRuleSet


def _meaning(rule: Rule) -> tuple[Any, ...]:
    return (rule.on, rule.condition, rule.score, rule.decision, rule.mode, rule.expires, rule.reason_zh, rule.reason_en)


def _rules(loaded: LoadedRuleSet | None) -> dict[str, Rule]:
    if loaded is None:
        return {}
    return {r.id: r for r in (loaded.ruleset.all_rules or loaded.ruleset.rules)}


def _keys_diff(old: Mapping[str, Any], new: Mapping[str, Any], same: Any) -> dict[str, list[str]]:
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(k for k in set(old) & set(new) if not same(old[k], new[k])),
    }


def rules_diff(before: LoadedRuleSet | None, after: LoadedRuleSet | None) -> dict[str, Any]:
    """``{"rules": {added, removed, changed}, "files": {added, removed, changed}}`` between two sets."""
    return {
        "rules": _keys_diff(_rules(before), _rules(after), lambda a, b: _meaning(a) == _meaning(b)),
        "files": _keys_diff(
            dict(before.files) if before else {}, dict(after.files) if after else {}, lambda a, b: a == b
        ),
    }


def list_entry(entry: Mapping[str, Any]) -> str:
    """``device:block:de****01`` for a list entry (its masked hint)."""
    return f"{entry['entity']}:{entry['kind']}:{entry['hint']}"
