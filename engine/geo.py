"""Where a phone number or an IP address is from, offline: the province-level region.

Used by the referral features that compare invitees' regions with the merchant's
service area (``pack.service_area``). Two offline sources, nothing is ever looked up
on the network:

- **phones**: the geocoder that ships inside ``phonenumbers`` (its prefix tables give
  the province and city of a Chinese mobile number's block, e.g. 江苏省常州市);
  virtual-operator and unallocated blocks give only "中国": no region.
- **IPs**: the ip2region database (``ip2region.xdb``, IPv4, 11 MB, Apache-2.0) that the
  ``ip-region`` package ships, read with ip2region's official Python searcher
  (``py-ip2region``). The ``ipregion`` package itself is never imported (its module
  talks to online APIs and edits ``sys.path``): only its data file is read, once, into
  memory, the first time an IP is asked about. Private and reserved addresses have no
  region; addresses outside China give their country (美国).

What is trusted: nothing. A region is a claim derived from the caller's phone and IP;
it only ever counts *against* a referrer (invitees outside the area), like identities.
"""

from __future__ import annotations

import bisect
import importlib.util
import ipaddress
import os
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import geocoder, phonenumberutil

#: The 34 province-level divisions, in the short form regions are compared in.
PROVINCES: tuple[str, ...] = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
    "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西",
    "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
)  # fmt: skip
_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")


def province(text: str) -> str | None:
    """The short province name a region description starts with (江苏省常州市 -> 江苏), else None."""
    for name in PROVINCES:
        if text.startswith(name):
            return name
    return None


def short_name(text: str) -> str:
    """A province written long or short (广西壮族自治区, 上海市, 江苏) in its short form."""
    text = text.strip()
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


@lru_cache(maxsize=4096)
def phone_region(e164: str) -> str | None:
    """Province of a phone number (E.164) from phonenumbers' offline geocoder; None when unknown.

    A mainland mobile number (``+861`` and ten digits) is read by its block, as
    :func:`phone_outside` reads it, so the number's own region, its block's and an
    invitee's share one cache entry per block (:func:`_block_region`).
    """
    if len(e164) == 14 and e164.startswith("+861") and e164[4:].isascii() and e164[4:].isdigit():
        return _block_region(e164[:10])
    return _region(e164)


def _region(e164: str) -> str | None:
    if len(e164) == 14 and e164.startswith("+861") and e164[4:].isascii() and e164[4:].isdigit():
        return _mobile_region(e164)
    number = _mainland(e164)
    if number is None:
        try:
            number = phonenumbers.parse(e164)
        except phonenumbers.NumberParseException:
            return None
    return province(geocoder.description_for_number(number, "zh"))


def _mainland(e164: str) -> phonenumbers.PhoneNumber | None:
    """``+86`` and a national number not starting with 0, as ``phonenumbers.parse`` reads it, without its ~20 µs.

    ``parse`` of such a string finds the country code 86 and keeps every digit after it as
    the national number (no national prefix, no leading zero to remember); the geocoder
    reads only those two fields. Anything else is parsed.
    """
    digits = e164[3:]
    if not e164.startswith("+86") or not 5 <= len(digits) <= 17 or not digits.isascii() or not digits.isdigit():
        return None
    if digits[0] == "0":
        return None
    return phonenumbers.PhoneNumber(country_code=86, national_number=int(digits))


def phone_outside(e164: str, area: frozenset[str]) -> bool | None:
    """Whether a mainland number's block is from a province outside ``area``; None when unknown.

    A code platform (接码) rents numbers from anywhere in the country, a studio's parents
    mostly have numbers from its own city. Virtual-operator and foreign numbers give no
    province: None (missing), never "outside". Cached per number block (``+86`` and seven
    digits, what the geocoder's tables key on), so a stream of fresh numbers costs a dict
    lookup, not a geocoder call (~30 µs), once its blocks have been seen.
    """
    if not e164.startswith("+86") or len(e164) < 10:
        return None
    region = _block_region(e164[:10])
    return None if region is None else region not in area


@lru_cache(maxsize=65536)
def _block_region(block: str) -> str | None:
    return _region(block + "0000")


def _mobile_region(e164: str) -> str | None:
    """``description_for_number`` of a ``+861`` number of eleven national digits, its number type cached.

    Of such a number's digits, CN's metadata patterns read the first five (every type that
    allows eleven digits starting with 1 ends in ``\\d{6}`` or longer), and the geocoder's
    prefixes are at most seven national digits long: so the type (~15 µs of the ~20 of
    ``description_for_number``) is one per five-digit prefix, and the region one per block
    (tests/engine/test_geo.py compares the two on every five-digit prefix and a sample of blocks).
    """
    number = phonenumbers.PhoneNumber(country_code=86, national_number=int(e164[3:]))
    kind = _mobile_type(e164[3:8])
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        return None
    if not phonenumberutil.is_number_type_geographical(kind, 86):
        return province(geocoder.country_name_for_number(number, "zh"))
    return province(geocoder.description_for_valid_number(number, "zh"))


@lru_cache(maxsize=16384)
def _mobile_type(prefix: str) -> int:
    """The number type of the eleven-digit national numbers starting with ``prefix`` (five digits from a 1)."""
    return int(
        phonenumberutil.number_type(phonenumbers.PhoneNumber(country_code=86, national_number=int(prefix + "000000")))
    )


def ip_outside(ip: str, area: frozenset[str]) -> bool | None:
    """Whether an address is from a province outside ``area`` (or abroad); None when private or unknown.

    A dial-up vendor's (秒拨) lines are residential addresses across the provinces, a
    studio's parents are on their city's broadband and carriers. ip2region gives the
    province; an address it cannot place, a private or reserved one, and IPv6 (the
    database is IPv4) are None, never "outside", so sending one makes nobody look local
    or far. An address abroad is outside. Cached per address (``ip_region``).
    """
    region = ip_region(ip)
    return None if region is None else region not in area


def foreign_number(e164: str | None, ip: str | None) -> str | None:
    """The number, when a mainland mobile signs up on a line of another province; None otherwise.

    A slow drip (细水长流) feeds a code platform's rented numbers, from wherever its card
    dealers bought them, one by one through a farmer's home line in the studio's city. A
    parent who kept a number from home is one such number on her line, a family two at most.
    Compared with the line, not with ``pack.service_area``, so it is a pure function of the
    event (a feature's distinct value). A block no province claims (a virtual operator's, or
    unallocated) is foreign: a number nobody can place is not a local one. Unknown without a
    mainland mobile (landlines, foreign numbers, raw digits) or a line in a Chinese province
    (private, reserved, IPv6, abroad): never foreign, so the caller gains nothing by hiding it.
    """
    if not e164 or not ip or not e164.startswith("+861") or len(e164) != 14:
        return None
    line = ip_region(ip)
    if line is None or line not in PROVINCES:
        return None
    return None if _block_region(e164[:10]) == line else e164


@lru_cache(maxsize=16384)
def ip_region(ip: str) -> str | None:
    """Province (China) or country (elsewhere) of an IPv4 address; None when private or unknown."""
    fields = _ip_fields(ip)
    if len(fields) < 3 or fields[0] in ("0", ""):
        return None
    if fields[0] != "中国":
        return fields[0]
    return province(fields[2]) if fields[2] != "0" else None


#: ip2region's network names (its ``isp`` field) of cloud, hosting and CDN networks, at home and
#: abroad: a phone in a parent's hand is on a carrier's or a broadband network, never in a data
#: centre. Alibaba's own corporate network (阿里巴巴) is left out: in Hangzhou it is an office.
#: 华为云 and 天翼云 are not told apart by ip2region (their ranges read 电信): unseen, not local.
HOSTING_NETWORKS = frozenset({
    "阿里云", "腾讯", "百度", "世纪互联", "网宿", "互联优势", "亚马逊", "微软", "谷歌", "阿卡迈",
    "SoftLayer", "Equinix", "Fastly", "StackPath", "Hurricane-Electric", "脸书",
})  # fmt: skip


@lru_cache(maxsize=16384)
def ip_hosting(ip: str) -> bool | None:
    """Whether an IPv4 address is in a cloud / hosting / CDN network (ip2region's ISP field); None when unknown.

    A script calling the API straight (协议抢) runs on rented servers; a parent taps from her
    phone. A private, reserved or unplaced address, IPv6 and an address whose network
    ip2region does not name are None (missing), never "not hosting": sending one proves nothing.
    """
    fields = _ip_fields(ip)
    if len(fields) < 5 or fields[4] in ("0", ""):
        return None
    return fields[4] in HOSTING_NETWORKS


@lru_cache(maxsize=4096)
def _ip_fields(ip: str) -> tuple[str, ...]:
    """ip2region's ``country|area|province|city|isp`` of a public IPv4 address, else ``()``.

    Cached (the newest 4,096 addresses) so that ``ip_region`` and ``ip_hosting`` of one
    request's address search the database once between them.
    """
    public = _plain_v4_global(ip)
    if public is None:  # not a plain dotted quad: ipaddress reads it (IPv6, malformed)
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return ()
        if address.version != 4 or not address.is_global:
            return ()
        ip = str(address)
    elif not public:
        return ()
    return tuple(str(_searcher().search(ip)).split("|"))


def _plain_v4_global(ip: str) -> bool | None:
    """``ipaddress.ip_address(ip).is_global`` of a dotted quad as ipaddress writes one (``str()`` of it is ``ip``).

    None for anything else (the caller asks ipaddress). Parsing and ``is_global``'s walk
    over the special networks cost ~5 µs for each new address; this is a split and a
    bisection in :data:`_V4_GLOBAL`, which holds ipaddress's own answers.
    """
    parts = ip.split(".")
    if len(parts) != 4 or _V4_GLOBAL is None:
        return None
    number = 0
    for part in parts:
        if not part.isdigit() or not part.isascii() or len(part) > 3 or (part[0] == "0" and len(part) > 1):
            return None
        octet = int(part)
        if octet > 255:
            return None
        number = number << 8 | octet
    starts, answers = _V4_GLOBAL
    return answers[bisect.bisect_right(starts, number) - 1]


def _v4_global_table() -> tuple[list[int], list[bool]] | None:
    """Where IPv4's ``is_global`` may change and its answer from each such point on, asked of ipaddress itself.

    ``is_global`` is membership of the special networks ipaddress lists (its
    ``_IPv4Constants``), so between two consecutive ends of those networks it cannot
    change: one ``is_global`` per interval, computed once, is the whole function. A
    Python whose ipaddress lists them elsewhere gets no table (None): every address is
    then read by ipaddress, as before.
    """
    ends = {0}
    for value in vars(getattr(ipaddress.IPv4Address, "_constants", object)).values():
        for item in value if isinstance(value, list | tuple | frozenset | set) else (value,):
            if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv4Address):
                network = ipaddress.IPv4Network(item)
                ends.add(int(network.network_address))
                ends.add(int(network.broadcast_address) + 1)
    ends.discard(1 << 32)
    if len(ends) == 1:
        return None
    starts = sorted(ends)
    return starts, [ipaddress.IPv4Address(start).is_global for start in starts]


_V4_GLOBAL = _v4_global_table()


@lru_cache(maxsize=1)
def _searcher() -> Any:
    """ip2region's in-memory searcher over the data file the ``ip-region`` package ships."""
    from ip2region import searcher, util

    spec = importlib.util.find_spec("ipregion")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the ip-region package (its ip2region.xdb) is not installed")
    path = os.path.join(next(iter(spec.submodule_search_locations)), "ip2region.xdb")
    version = util.version_from_header(util.load_header_from_file(path))
    if version is None:
        raise RuntimeError(f"{path}: not an ip2region database")
    return searcher.new_with_buffer(version, util.load_content_from_file(path))
