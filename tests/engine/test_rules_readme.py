"""rules/README.md's rule counts match the pack: each risk file's heading, the total, the shadow and expiring rules.

The headings went stale once (four files gained rules and kept their old counts): a rule added
or removed without its heading fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

RULES = Path(__file__).parents[2] / "rules"
HEADING = re.compile(r"^### .* — `(risk/[\w.]+\.yaml)`, (\d+) rules?$", re.MULTILINE)
TOTALS = re.compile(r"^(\d+) rules, codes grouped by family; (\d+) are \*\*shadow\*\*.*? and (\d+) expire", re.M | re.S)


def _rules(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((RULES / name).read_text(encoding="utf-8")).get("rules") or [])


def _readme() -> str:
    return (RULES / "README.md").read_text(encoding="utf-8")


def test_every_risk_file_s_heading_counts_its_rules() -> None:
    headings = {name: int(count) for name, count in HEADING.findall(_readme())}
    files = sorted(str(path.relative_to(RULES)) for path in (RULES / "risk").glob("*.yaml"))
    assert sorted(headings) == files  # a heading per file, none for a file that is gone
    assert headings == {name: len(_rules(name)) for name in files}


def test_the_total_and_the_shadow_and_expiring_rules_are_the_pack_s() -> None:
    found = TOTALS.search(_readme())
    assert found is not None
    rules = [rule for path in sorted((RULES / "risk").glob("*.yaml")) for rule in _rules(f"risk/{path.name}")]
    shadow = sum(1 for rule in rules if rule.get("mode") == "shadow")
    expiring = sum(1 for rule in rules if "expires" in rule)
    assert tuple(int(n) for n in found.groups()) == (len(rules), shadow, expiring)
