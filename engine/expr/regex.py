"""The pack's regular expressions: RE2, so matching time is linear in the text.

``matches(s, "regex")`` is a trust boundary twice over: a pack author (or whoever
holds an admin key) writes the pattern, and a caller of ``/v1/score`` writes the
text. Python's ``re`` backtracks: ``(a+)+$`` against 26 ``a``\\s and a ``b`` takes
seconds, doubling per character, and blocks the worker's event loop. RE2 (Google's
automaton engine, the ``google-re2`` wheel on PyPI, bundling its own C++ library)
never backtracks: a match costs O(pattern x text), microseconds for the longest
strings an event may carry (engine/events.py caps them).

What we refuse: anything RE2 cannot compile, which is exactly the constructs that
need backtracking (backreferences ``\\1``, lookahead/lookbehind ``(?=``, ``(?<!``,
possessive and atomic groups) plus plain syntax errors and repeats RE2 refuses
(``(a{999}){999}``). ``check_pattern`` returns RE2's reason; the condition checker
turns it into a ``BAD_REGEX`` diagnostic at the pattern. Linear is not free: a
pattern such as ``[ab]*a[ab]{999}`` defeats RE2's DFA and costs ~10 ms over 1024
characters, so the size of each pattern's program and of all of a rule set's
patterns together are limits too (``LIMIT_EXCEEDED``), which bounds one event's
regex work (``MAX_PROGRAM_TOTAL``).

Dialect notes (docs/rule-pack.md): RE2 syntax is Python's for everything the pack
needs (classes, ``{m,n}``, ``(?i)``, ``(?P<name>...)``, ``\\d \\w \\s``), with two
differences: ``\\d``, ``\\w`` and ``\\b`` are ASCII-only, and ``\\Z`` is spelled ``\\z``.

We call the extension module's ``RE2.Match`` directly (with ``never_capture``):
the package's ``re``-compatible wrapper builds a match object and maps byte
offsets back to characters on every call, ~4 us against ~0.9 us here, and the
rules only need "does the whole text match". The version is pinned to the 1.x
line in pyproject.toml for that reason; tests/engine/test_regex.py pins the
behaviour.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import re2
from re2 import _re2

#: RE2's memory budget for one compiled pattern (its default is 8 MiB); bigger programs are refused.
MAX_PROGRAM_BYTES = 1 << 20
#: Most RE2 instructions one pattern may compile to. Matching costs at worst ~10-20 ns per
#: instruction per byte of text (when RE2's DFA gives up and it runs its NFA), so 500
#: instructions over the longest attribute (1024 characters) stay under ~10 ms.
MAX_PROGRAM = 500
#: Most RE2 instructions all of a rule set's rules, tiers and offers may compile to together:
#: the bound on one event's regex work (~2000 x 1024 x 20 ns, ~40 ms, for the most hostile pack
#: this admits; real patterns such as ``.*headless.*`` are ~10-20 instructions and microseconds).
MAX_PROGRAM_TOTAL = 2000

_FULL = _re2.RE2.Anchor.ANCHOR_BOTH


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.never_capture = True  # groups only group: nothing reads them
    options.max_mem = MAX_PROGRAM_BYTES
    return options


def check_pattern(pattern: str) -> str | None:
    """Why RE2 refuses ``pattern`` (its own words), or None when it compiles."""
    compiled = _re2.RE2(pattern.encode("utf-8", "surrogatepass"), _options())
    if compiled.ok():
        return None
    reason = compiled.error()
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def program_size(pattern: str) -> int:
    """RE2 instructions ``pattern`` compiles to: the measure of its worst-case matching cost."""
    return int(_re2.RE2(pattern.encode("utf-8", "surrogatepass"), _options()).ProgramSize())


@functools.lru_cache(maxsize=4096)
def full_matcher(pattern: str) -> Callable[[str], bool]:
    """A function telling whether a whole text matches ``pattern`` (checked: see check_pattern)."""
    compiled = _re2.RE2(pattern.encode("utf-8", "surrogatepass"), _options())
    if not compiled.ok():
        raise ValueError(f"pattern {pattern!r} does not compile: {compiled.error()!r}")
    match = compiled.Match

    def fullmatch(text: str) -> bool:
        data = text.encode("utf-8", "surrogatepass")
        return bool(match(_FULL, data, 0, len(data))[0][0] != -1)

    return fullmatch
