"""A YAML date or time that is no real moment is a diagnostic at its place, never a crash of the compile."""

from __future__ import annotations

import pytest

from engine.compile.pack import compile_files
from engine.diagnostics import Code

RULE = (
    "rules:\n"
    "  - {{id: dated, code: 9999, on: [signup], when: 'event.amount > 1', score: 5, expires: {when},\n"
    "     reason: {{zh: 限时, en: for a while}}}}\n"
)


IMPOSSIBLE = ["2026-02-30", "0000-01-01", "2026-11-31", "2026-12-01 25:00:00", "2026-12-01T23:61:00"]


@pytest.mark.parametrize("when", IMPOSSIBLE)
def test_an_impossible_date_is_invalid_value_at_its_place(when: str) -> None:
    """Before: PyYAML's constructor raised ValueError through the loader: ``yutang check`` printed only
    "day is out of range for month" and the API's compile child died, reported as LIMIT_EXCEEDED (1024 MB)."""
    ruleset, diagnostics = compile_files({"dated.yaml": RULE.format(when=when)})
    assert ruleset is None
    invalid = [d for d in diagnostics if d.code is Code.INVALID_VALUE]  # (a pack of one file: no tiers either)
    assert [(d.location.file, d.location.line) for d in invalid] == [("dated.yaml", 2)]
    assert "'expires'" in invalid[0].message
