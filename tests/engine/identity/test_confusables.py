"""Red team: one identity typed in look-alike characters is one identity; two that only look alike stay two.

Found in session 3: ``lina@gmail.com`` typed full-width (what a Chinese input method types
in full-width mode) and ``li\\u200bna@gmail.com`` (a zero-width space inside) were each a
new mailbox, so one farm inbox could be as many "customers" as it liked, each with its
own counters; a full-width phone was a 422 and a dressed card number passed.
"""

from __future__ import annotations

import pytest

from engine.identity.emails import canonical_email
from engine.identity.payments import canonical_payment, looks_like_pan
from engine.identity.phones import e164

ZWSP, ZWJ, SOFT_HYPHEN, WORD_JOINER = "\u200b", "\u200d", "\u00ad", "\u2060"


def wide(text: str) -> str:
    """``text`` in full-width forms (what a Chinese input method types in full-width mode)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


@pytest.mark.parametrize(
    "spelling",
    [
        wide("lina") + "@gmail.com",
        f"li{ZWSP}na@gmail.com",
        f"lina@gm{SOFT_HYPHEN}ail.com",
        f"l{ZWJ}i.na+x@" + wide("gmail.com"),
        "\ufefflina@gmail.com",
        f"lina{WORD_JOINER}@googlemail.com",
    ],
)
def test_one_mailbox_in_look_alike_characters_is_one_mailbox(spelling: str) -> None:
    assert canonical_email(spelling) == canonical_email("lina@gmail.com") == "lina@gmail.com"


@pytest.mark.parametrize("other", ["l\u0456na@gmail.com", "lin\u0430@gmail.com"])  # Cyrillic i / a: another mailbox
def test_letters_that_only_look_alike_stay_apart(other: str) -> None:
    assert canonical_email(other) != canonical_email("lina@gmail.com")


@pytest.mark.parametrize("spelling", [wide("13912345678"), f"139{ZWSP}1234{ZWSP}5678", wide("+86 139 1234 5678")])
def test_one_phone_in_full_width_or_invisible_characters_is_one_phone(spelling: str) -> None:
    assert e164(spelling, "CN") == "+8613912345678"


@pytest.mark.parametrize(
    "dressed",
    [
        "card:4111111111111111",
        "4111.1111.1111.1111",
        wide("4111111111111111"),
        f"4111{ZWSP}1111{ZWSP}1111{ZWSP}1111",
        "tok_4111111111111111",
        "+4111111111111111",
        "4111/1111/1111/1111",
        "4111_1111_1111_1111",
        "pan=5555555555554444;",
    ],
)
def test_a_card_number_in_any_dress_is_refused(dressed: str) -> None:
    assert looks_like_pan(dressed)
    with pytest.raises(ValueError, match="card number"):
        canonical_payment(dressed)


@pytest.mark.parametrize(
    "token",
    [
        "2088102146225135",
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "fp_1NXrW2LkdIwHu7ix",
        "wx-wallet-77",
        "order-2026120212345-01",
    ],
)
def test_tokens_with_digits_still_pass(token: str) -> None:
    assert canonical_payment(token) == token


def test_a_token_in_full_width_or_with_invisible_characters_is_the_same_token() -> None:
    assert canonical_payment(wide("fp") + f"_1NXrW2{ZWSP}LkdIwHu7ix") == "fp_1NXrW2LkdIwHu7ix"
