"""Regions of phones and IPs, offline: a table of real prefixes and addresses with known places."""

from __future__ import annotations

import pytest

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
