"""The payment identity: tokens pass as sent, anything that looks like a card number is refused."""

from __future__ import annotations

import pytest

from engine.identity.payments import canonical_payment, looks_like_pan, luhn_valid

CARD_NUMBERS = [
    "4111111111111111",  # Visa test card
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "5555555555554444",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # American Express
    "6222021234567890128",  # UnionPay, 19 digits
    "6011111111111117",  # Discover
    "3530111333300000",  # JCB
]

TOKENS = [
    "2088102146225135",  # an Alipay buyer id: 16 digits, no card network's prefix
    "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",  # a WeChat Pay openid
    "fp_1NXrW2LkdIwHu7ix",  # a card fingerprint
    "4111111111111112",  # a Visa prefix failing Luhn: not a card number
    "wx-wallet-77",
]


@pytest.mark.parametrize("number", CARD_NUMBERS)
def test_a_card_number_is_refused_with_a_reason(number: str) -> None:
    assert looks_like_pan(number)
    with pytest.raises(ValueError, match="card number"):
        canonical_payment(number)


@pytest.mark.parametrize("token", TOKENS)
def test_a_token_passes_as_sent(token: str) -> None:
    assert canonical_payment(f" {token} ") == token


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
