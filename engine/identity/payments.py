"""The ``payment`` identity: a wallet or card *fingerprint* the payment provider gave the storefront.

Many accounts paying with one wallet or one card is the farm's shared back end (a
"shared back end" in DOMAIN.md): the link shows at checkout. The storefront sends the
provider's token for the instrument (WeChat Pay / Alipay buyer id, a card network's
fingerprint such as Stripe's ``card.fingerprint``), which the feature store keys by
HMAC like every other personal value and never stores.

Refused (ValueError, a 422 naming ``payment``): a value that looks like a card number
(PAN), anywhere in the value and in any spelling (``card:4111.1111...``, full-width
digits, zero-width characters between the groups): 13-19 digits once separators
(spaces, dashes, dots, underscores, slashes) are dropped, passing the Luhn check, with a
card network's prefix (Visa 4, Mastercard 51-55 and 2221-2720, American Express 34/37,
UnionPay 62/81, Discover 6011/644-649/65, JCB 3528-3589, Diners 300-305/36/38/39,
Maestro 50/56-69). A PAN must never reach a risk engine's logs or Redis: refusing it
loudly teaches the integrator to send the token. An Alipay buyer id (16 digits starting
``2088``) is no card prefix and passes.

Canonical form: the token as sent, trimmed; tokens are case-sensitive in every
provider's API, so case is kept.
"""

from __future__ import annotations

import re

from engine.identity.text import fold

#: What people and systems put between a card number's digit groups.
_SEPARATORS = re.compile(r"[\s\-._/]")
_DIGITS = re.compile(r"^[0-9]{13,19}$")
#: A run of digits, with separators between them, anywhere in the value (``card:4111 1111 ...``).
_DIGIT_RUN = re.compile(r"[0-9](?:[\s\-._/]*[0-9])*")
_CARD_PREFIX = re.compile(
    r"^(?:4|5[1-5]|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720)|3[47]|62|81|6011|64[4-9]|65"
    r"|35(?:2[89]|[3-8][0-9])|30[0-5]|3[689]|50|5[6-9]|6[0-9])"
)


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` passes the Luhn checksum every card number carries."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def looks_like_pan(value: str) -> bool:
    """Whether ``value`` holds what is probably a card number (length, network prefix and Luhn).

    Anywhere in the value, in any spelling: full-width digits and invisible characters
    are folded first, digit groups may be split by spaces, dashes, dots, underscores or
    slashes, and a prefix (``card:``, ``tok_``, ``+``) does not hide the number behind it.
    """
    for run in _DIGIT_RUN.findall(fold(value)):
        compact = _SEPARATORS.sub("", run)
        if _DIGITS.match(compact) and _CARD_PREFIX.match(compact) and luhn_valid(compact):
            return True
    return False


def canonical_payment(raw: str) -> str:
    """The payment token as keyed; ValueError when it looks like a card number."""
    value = fold(raw).strip()
    if looks_like_pan(value):
        raise ValueError(
            "payment looks like a card number: send the payment provider's token or fingerprint, never the card number"
        )
    return value
