"""A coupon code as one key, so a code typed in another case or width is the same code.

Code resale (DOMAIN.md): an outsider who bought a group's code ``QUN09-7F3K`` typed
``qun09-7f3k`` (or in full-width letters) and, compared exactly, the code was bound to
nothing, so ``coupon.outside_binding`` was False and ``coupon.devices_1h`` counted a new
code. Codes are printed on posters and read aloud: case and width carry no meaning.

Trusted: nothing about the text. Folded: NFKC, invisible format characters, surrounding
spaces, case (upper). Kept apart: anything else (``QUN09-7F3K`` and ``QUN097F3K`` differ).
"""

from __future__ import annotations

from engine.identity.text import fold


def canonical_code(code: str) -> str:
    """The key of a coupon code: ``qun09-7f3k `` (or full-width) -> ``QUN09-7F3K``."""
    return fold(code).strip().upper()
