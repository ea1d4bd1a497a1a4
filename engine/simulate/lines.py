"""Where a simulated network line is: IP addresses drawn per province, placed by ip2region.

The pack compares an IP's province (engine/geo.py: the ip2region database the project
ships, offline) with the studio's service area, so the simulator draws its addresses from
the same source: a /16 of the broadband and mobile ranges (``HOME_OCTETS``) belongs to a
province when ip2region places four addresses spread across it there, and an address is
drawn from a province's /16s and checked against ip2region (redrawn when the /16 is mixed).
A parent's home line and the carrier-NAT exits of the studio's city are in the service
area; a dial-up (秒拨) vendor's lines are residential lines of many provinces; a farmer's
line or a crowd worker's phone can be anywhere in the country. No foreign ranges: a
Chinese residential line is what every tactic here uses.

The province index is built once per process from the database (~0.4 s), so a seed draws
the same addresses on every machine with the same ``ip-region`` data file (pinned in the
lock files).
"""

from __future__ import annotations

import random
from functools import lru_cache

from engine.geo import PROVINCES, ip_region

#: The studio's area: ``pack.service_area`` of the shipped pack (rules/pack.yaml), Beijing and around.
STUDIO_AREA: tuple[str, ...] = ("北京", "天津", "河北")
#: First octets of Chinese broadband / mobile ranges.
HOME_OCTETS: tuple[int, ...] = (
    36, 39, 42, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117, 119, 120,
    121, 122, 123, 124, 125, 175, 180, 182, 183, 218, 219, 220, 221, 222, 223,
)  # fmt: skip
_PROBES = (3, 77, 150, 230)
_MAINLAND = frozenset(PROVINCES) - {"台湾", "香港", "澳门"}


@lru_cache(maxsize=1)
def province_prefixes() -> dict[str, tuple[str, ...]]:
    """Mainland province -> the ``a.b`` /16s of ``HOME_OCTETS`` that ip2region places wholly in it."""
    index: dict[str, list[str]] = {}
    for a in HOME_OCTETS:
        for b in range(256):
            regions = {ip_region(f"{a}.{b}.{c}.9") for c in _PROBES}
            if len(regions) == 1 and (region := regions.pop()) in _MAINLAND:
                index.setdefault(region, []).append(f"{a}.{b}")
    return {region: tuple(prefixes) for region, prefixes in sorted(index.items())}


def outside_provinces() -> tuple[str, ...]:
    """Mainland provinces with lines, outside the studio's area."""
    return tuple(p for p in province_prefixes() if p not in STUDIO_AREA)


def line_in(rng: random.Random, provinces: tuple[str, ...], *, by_space: bool = True) -> str:
    """An address in one of ``provinces``, weighted by their address space, else each province as likely.

    ip2region registers much of the country's space in 北京 (head offices), so nationwide
    lines (a dial-up vendor's, crowd workers') draw the province first, uniformly.
    """
    index = province_prefixes()
    weights = [len(index.get(p, ())) if by_space else 1 for p in provinces]
    province = rng.choices(provinces, weights=weights)[0]
    ip = ""
    for _ in range(8):
        ip = f"{rng.choice(index[province])}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if ip_region(ip) == province:
            break
    return ip


def local_line(rng: random.Random) -> str:
    """A home broadband or carrier-NAT address in the studio's area."""
    return line_in(rng, STUDIO_AREA)


def line_anywhere(rng: random.Random) -> str:
    """A residential address anywhere in mainland China, the province drawn first (the studio's area 3 of 31)."""
    return line_in(rng, tuple(province_prefixes()), by_space=False)


def line_elsewhere(rng: random.Random) -> str:
    """A residential address in a province outside the studio's area."""
    return line_in(rng, outside_provinces(), by_space=False)
