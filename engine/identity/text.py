"""One spelling per character before any identity is normalized: compatibility forms and invisible characters folded.

A farmer (or a keyboard) can type one phone, mailbox or token in characters that look
alike but differ as code points: full-width digits and letters (U+FF11 for ``1``, U+FF41 for ``a``:
what Chinese input methods produce in full-width mode), or the same text with invisible
format characters inside (zero-width space U+200B, zero-width joiner, soft hyphen,
word joiner, a BOM). Hashed as sent, each spelling is a new identity: one customer split
into many, each with its own counters, and a card number dressed in full-width digits
would pass the card-number check.

:func:`fold` applies Unicode NFKC (compatibility forms to their plain form: full-width
to ASCII, ligatures to their letters) and drops every format character (category
``Cf``). It never folds *different* letters that merely look alike (Cyrillic U+0430 is
not Latin ``a``): those are different mailboxes, and folding them would merge two
customers.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """``text`` in NFKC without invisible format characters (full-width ``ali`` + U+200B + ``ce`` -> ``alice``)."""
    if text.isascii():
        return text  # the common case: nothing to fold
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
