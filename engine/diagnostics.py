"""Diagnostics: every problem found in a rule pack, with where it is and what to do.

Rendered as ``file:line:col CODE message`` (OPA/zen style) and sorted by location,
so a marketer fixes a pack top to bottom.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Code(StrEnum):
    """Stable diagnostic codes; each has a bad-rule fixture under tests/engine/fixtures."""

    YAML_SYNTAX = "YAML_SYNTAX"
    DUPLICATE_KEY = "DUPLICATE_KEY"
    UNKNOWN_SECTION = "UNKNOWN_SECTION"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    MISSING_FIELD = "MISSING_FIELD"
    INVALID_VALUE = "INVALID_VALUE"
    DUPLICATE_ID = "DUPLICATE_ID"
    DUPLICATE_CODE = "DUPLICATE_CODE"
    PARSE_ERROR = "PARSE_ERROR"
    UNSUPPORTED_SYNTAX = "UNSUPPORTED_SYNTAX"
    UNKNOWN_NAME = "UNKNOWN_NAME"
    UNKNOWN_LIST = "UNKNOWN_LIST"
    UNKNOWN_FUNCTION = "UNKNOWN_FUNCTION"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    BAD_REGEX = "BAD_REGEX"
    BAD_WINDOW = "BAD_WINDOW"
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    UNKNOWN_ENTITY = "UNKNOWN_ENTITY"
    UNKNOWN_TIER = "UNKNOWN_TIER"
    UNKNOWN_RULE = "UNKNOWN_RULE"
    UNKNOWN_OFFER = "UNKNOWN_OFFER"
    UNKNOWN_GROUP = "UNKNOWN_GROUP"
    NO_DEFAULT_TIER = "NO_DEFAULT_TIER"
    UNREACHABLE_TIER = "UNREACHABLE_TIER"
    BAD_THRESHOLDS = "BAD_THRESHOLDS"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    EMPTY_PACK = "EMPTY_PACK"
    EXPIRED_RULE = "EXPIRED_RULE"
    UNUSED_FEATURE = "UNUSED_FEATURE"
    UNKNOWN_STAGE = "UNKNOWN_STAGE"
    UNREACHABLE_STAGE = "UNREACHABLE_STAGE"
    UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
    UNKNOWN_WEBHOOK = "UNKNOWN_WEBHOOK"
    WEBHOOK_HOST_REFUSED = "WEBHOOK_HOST_REFUSED"
    WEBHOOK_SECRET_REFUSED = "WEBHOOK_SECRET_REFUSED"
    IMPLICIT_BENEFICIARY = "IMPLICIT_BENEFICIARY"
    LAYER_CONFLICT = "LAYER_CONFLICT"  # a tenant pack redefines a base item without ``override: true``
    OVERRIDE_MISSING = "OVERRIDE_MISSING"  # ``override: true`` names no base rule


@dataclass(frozen=True, slots=True, order=True)
class Location:
    file: str
    line: int = 0
    col: int = 0

    def render(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    location: Location
    code: Code
    message: str
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def render(self) -> str:
        prefix = "" if self.is_error else "warning: "
        return f"{self.location.render()} {self.code.value} {prefix}{self.message}"

    def as_json(self) -> str:
        import json

        return json.dumps(self.as_dict(), ensure_ascii=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "col": self.location.col,
            "code": self.code.value,
            "severity": self.severity.value,
            "message": self.message,
        }


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.location, d.code.value, d.message))


#: What a file that did not parse causes elsewhere: its names are missing, not misspelt.
FOLLOWS_FROM_DROPPED_FILE = frozenset(
    {
        Code.UNKNOWN_NAME, Code.UNKNOWN_LIST, Code.UNKNOWN_TIER, Code.UNKNOWN_RULE, Code.UNKNOWN_OFFER,
        Code.UNKNOWN_GROUP, Code.UNKNOWN_STAGE, Code.UNKNOWN_CHANNEL, Code.UNKNOWN_WEBHOOK, Code.UNUSED_FEATURE,
        Code.NO_DEFAULT_TIER, Code.UNREACHABLE_TIER, Code.UNREACHABLE_STAGE, Code.TYPE_MISMATCH,
    }
)  # fmt: skip


def syntax_first(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Put YAML syntax errors first and drop the reference errors a dropped file causes.

    A file that does not parse is not read at all, so every name it declared looks
    unknown elsewhere (25 ``UNKNOWN_TIER`` for one bad indent, each with a misleading
    did-you-mean). Those are not shown while a syntax error stands; the first syntax
    error says how many were held back.
    """
    syntax = [d for d in diagnostics if d.code is Code.YAML_SYNTAX]
    if not syntax:
        return diagnostics
    rest = [d for d in diagnostics if d.code is not Code.YAML_SYNTAX and d.code not in FOLLOWS_FROM_DROPPED_FILE]
    held = len(diagnostics) - len(syntax) - len(rest)
    if held:
        first = syntax[0]
        note = f"; the file is not read, so {held} diagnostic(s) about names it may declare wait until it parses"
        syntax[0] = Diagnostic(first.location, first.code, first.message + note, first.severity)
    return syntax + rest


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest candidate, or an empty string.

    The word itself is never suggested: a name that is valid elsewhere but not here
    (``shadow`` in a scenario step's ``expect``) has no correction, not itself.
    """
    close = difflib.get_close_matches(word, [c for c in candidates if c != word], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
