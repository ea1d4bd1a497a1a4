"""Regions of phones and IPs, offline: a table of real prefixes and addresses with known places."""

from __future__ import annotations

import ipaddress
import random

import phonenumbers
import pytest
from phonenumbers import geocoder

from engine import geo


@pytest.mark.parametrize(
    ("phone", "region"),
    [
        ("+8613800138000", "北京"),  # China Mobile's Beijing block
        ("+8618912345678", "江苏"),  # China Telecom, Changzhou
        ("+8613512340000", "重庆"),
        ("+8617012345678", None),  # a virtual-operator block: "中国", no province
        ("+14155552671", None),  # not a Chinese number: no province
        ("not a phone", None),
    ],
)
def test_phone_regions(phone: str, region: str | None) -> None:
    assert geo.phone_region(phone) == region


def _parsed_region(e164: str) -> str | None:
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    return geo.province(geocoder.description_for_number(number, "zh"))


def test_mainland_numbers_read_without_parsing_give_what_parsing_gives() -> None:
    """The ``+86`` shortcut past ``phonenumbers.parse`` agrees with it on every kind of number."""
    rng = random.Random(20)
    numbers = [f"+86{rng.choice('1123456789')}{rng.randrange(10 ** rng.randrange(2, 13))}" for _ in range(500)]
    numbers += [f"+861{rng.choice('3456789')}{rng.randrange(10**9):09d}" for _ in range(1000)]  # mobiles
    numbers += ["+86", "+861", "+8601012345678", "+86\uff11\uff13\uff10", "+86 138 0013 8000", "+861380013800x"]
    wrong = [n for n in numbers if geo.phone_region.__wrapped__(n) != _parsed_region(n)]
    assert not wrong
    assert sum(_parsed_region(n) is not None for n in numbers) > 300  # many carry a province: the test has teeth


@pytest.mark.parametrize(
    ("ip", "region"),
    [
        ("114.114.114.114", "江苏"),  # 114DNS, Nanjing
        ("36.110.0.1", "北京"),
        ("58.32.0.1", "上海"),
        ("221.130.0.1", "江苏"),
        ("8.8.8.8", "美国"),  # abroad: the country
        ("10.0.0.7", None),  # private: nowhere
        ("127.0.0.1", None),
        ("2400:da00::6666", None),  # IPv6: the shipped database is IPv4 only
        ("999.1.1.1", None),
    ],
)
def test_ip_regions(ip: str, region: str | None) -> None:
    assert geo.ip_region(ip) == region


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("广西壮族自治区", "广西"),
        ("上海市", "上海"),
        ("江苏省", "江苏"),
        ("新疆维吾尔自治区", "新疆"),
        ("香港特别行政区", "香港"),
        ("浙江", "浙江"),
    ],
)
def test_province_names_long_or_short(text: str, short: str) -> None:
    assert geo.short_name(text) == short and short in geo.PROVINCES


def test_mobile_numbers_read_by_block_give_what_the_geocoder_gives() -> None:
    """A ``+861`` number's region, read by its block and a type cached per five digits, is the geocoder's own.

    Every five-digit prefix once, each with random remaining digits (the whole million
    blocks, one random number each, gave no difference either when this was written).
    """
    rng = random.Random(9)
    for prefix in range(10_000):
        e164 = f"+861{prefix:04d}{rng.randrange(10**6):06d}"
        number = phonenumbers.PhoneNumber(country_code=86, national_number=int(e164[3:]))
        assert geo.phone_region(e164) == geo.province(geocoder.description_for_number(number, "zh")), e164


def test_dotted_quads_are_public_exactly_where_ipaddress_says() -> None:
    """The bisection table's ``is_global`` is ipaddress's: at every end of its intervals, around them, at random."""
    starts, _ = geo._V4_GLOBAL or ([], [])
    assert len(starts) > 10  # the table was built from this Python's ipaddress
    rng = random.Random(4)
    numbers = {n + d for n in starts for d in (-1, 0, 1) if 0 <= n + d < 1 << 32}
    numbers |= {rng.randrange(1 << 32) for _ in range(50_000)}
    for number in numbers:
        ip = str(ipaddress.IPv4Address(number))
        assert geo._plain_v4_global(ip) == ipaddress.IPv4Address(number).is_global, ip
    for text in ("01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "\u0661.2.3.4", "1.2.3.4 ", "::1", ""):
        assert geo._plain_v4_global(text) is None, text  # not a plain dotted quad: ipaddress decides
    assert geo.ip_region("01.2.3.4") is None


def test_ip_regions_of_plain_quads_match_the_ipaddress_path() -> None:
    """``_ip_fields`` through the table gives what it gave through ``ipaddress.ip_address``."""
    rng = random.Random(8)
    for _ in range(3_000):
        ip = str(ipaddress.IPv4Address(rng.randrange(1 << 32)))
        address = ipaddress.ip_address(ip)
        expected = tuple(str(geo._searcher().search(ip)).split("|")) if address.is_global else ()
        assert geo._ip_fields.__wrapped__(ip) == expected, ip
