"""Phone numbers in one canonical form, E.164, before anything hashes, counts or lists them.

A farmer who signs up as ``13800138000``, then ``+8613800138000``, then
``+86 138 0013 8000`` is one phone: without one canonical form each spelling would get
its own keyed hash, its own ``phone.accounts_30d`` counter and would miss a block-list
entry written the other way. Numbers are parsed with ``phonenumbers`` (Google's
libphonenumber metadata); a number written without a country code is read in the
pack's region (``pack.phone_region``, default ``CN``).

Trusted: nothing about the caller's spelling; full-width digits and invisible characters
are folded first (engine/identity/text.py). Refused: anything that is not 5-20 digits
(spaces, dashes, dots and parentheses aside, one leading ``+`` or ``00``) or that
libphonenumber cannot parse. Accepted without judging: numbers libphonenumber deems
invalid for their country (new or virtual-operator segments), since a risk engine must
count those, not refuse them.

The region travels in a context variable: the API sets it per request from the rule set
that is serving (``api.deps.get_runtime``, ``/v1/score``), the compiler and replay set it
around what they parse. It defaults to ``CN``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

import phonenumbers

from engine.identity.text import fold

DEFAULT_REGION = "CN"
#: Characters people put between digits; dropped before parsing.
_SEPARATORS = re.compile(r"[\s\-.()]")
_DIGITS = re.compile(r"^\+?[0-9]{5,20}$")
_region: ContextVar[str] = ContextVar("phone_region", default=DEFAULT_REGION)
#: A mainland mobile number as most are sent (11 digits, ``+86`` optional) that libphonenumber reads as itself:
#: CN's international prefix (``00|1(?:[12]\d|79)\d\d00``) and national prefix for parsing
#: (``(1(?:[12]\d|79)\d\d)|0``) can only start with 0, 11, 12 or 179, so a number starting 13-16, 18, 19 or
#: 170-178 is neither dialled abroad nor stripped of a carrier code: its E.164 is ``+86`` and its 11 digits.
_CN_MOBILE = re.compile(r"(?:\+86)?(1(?:[3-689][0-9]|7[0-8])[0-9]{8})")


def current_region() -> str:
    """The region numbers without a country code are read in, here and now."""
    return _region.get()


def use_region(region: str) -> None:
    """Read numbers in ``region`` for the rest of this task (one API request)."""
    if _region.get() != region:
        _region.set(region)


@contextmanager
def phone_region(region: str) -> Iterator[None]:
    """Read numbers in ``region`` inside the block."""
    token = _region.set(region)
    try:
        yield
    finally:
        _region.reset(token)


def known_region(region: str) -> bool:
    """Whether libphonenumber has metadata for ``region`` (ISO 3166 alpha-2, e.g. CN, HK)."""
    return region in phonenumbers.SUPPORTED_REGIONS


def country_code(number: str) -> int:
    """The country calling code of an E.164 number (86 for +8613800138000)."""
    return int(phonenumbers.parse(number, None).country_code or 0)


def e164(raw: str, region: str | None = None) -> str:
    """``raw`` as E.164 (``+8613800138000``); ValueError saying why when it is not a phone number."""
    return _e164(fold(raw).strip(), region or _region.get())


@lru_cache(maxsize=8192)
def _e164(raw: str, region: str) -> str:
    compact = _SEPARATORS.sub("", raw)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if region == "CN" and (mobile := _CN_MOBILE.fullmatch(compact)) is not None:
        return "+86" + mobile[1]  # what parse + format give (tests/engine/test_phones.py), without their ~25 µs
    if not _DIGITS.match(compact):
        raise ValueError("phone must be 5-20 digits, optionally with a leading + (spaces and dashes allowed)")
    try:
        number = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException as err:
        raise ValueError(f"phone is not a phone number: {err}") from None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
