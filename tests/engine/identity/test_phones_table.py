"""Phones: every spelling of one number is one E.164 number; two numbers stay two."""

from __future__ import annotations

import pytest

from engine.identity.phones import e164, phone_region

SAME: list[tuple[str, str, str]] = [
    ("CN", "13800138000", "+86 138 0013 8000"),
    ("CN", "13800138000", "0086-138-0013-8000"),
    ("CN", "13800138000", "(+86) 138.0013.8000"),
    ("CN", "17012345678", "+8617012345678"),  # a virtual-operator segment is counted, not refused
    ("CN", "010 6552 9988", "+86 10 6552 9988"),  # a Beijing landline with its trunk 0
    ("HK", "9123 4567", "+852 9123 4567"),
    ("CN", "+852 9123 4567", "00852 91234567"),
    ("US", "(703) 555-0123", "+1 703 555 0123"),
]

DIFFERENT: list[tuple[str, str, str]] = [
    ("CN", "13800138000", "13800138001"),
    ("CN", "91234567", "+852 9123 4567"),  # 8 digits in CN are not a Hong Kong number
    ("CN", "+8613800138000", "+85213800138000"),
]


@pytest.mark.parametrize(("region", "left", "right"), SAME)
def test_one_number_typed_two_ways_is_one_phone(region: str, left: str, right: str) -> None:
    with phone_region(region):
        assert e164(left) == e164(right)


@pytest.mark.parametrize(("region", "left", "right"), DIFFERENT)
def test_two_numbers_stay_two(region: str, left: str, right: str) -> None:
    with phone_region(region):
        assert e164(left) != e164(right)
