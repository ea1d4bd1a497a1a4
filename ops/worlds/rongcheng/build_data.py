"""``python -m ops.worlds.rongcheng.build_data``: rebuild ``data/places.json`` from its sources.

The world's phone blocks and IP ranges are real, read offline from the two databases the
project already ships (so the file can be rebuilt on any machine with the venv):

- phone blocks: every 7-digit mainland mobile block (``1SS MMMM``) of the listed segments that
  ``phonenumbers``' geocoder (its ``zh`` descriptions) places in 成都市, and a sample of blocks it
  places in each other province; virtual-operator segments (162/165/167/170/171) kept apart;
- IP ranges: ip2region's ``ip2region.xdb`` (shipped in the ``ip-region`` wheel), its segment index
  walked in full: 成都市 ranges by ISP (telecom / unicom / mobile broadband and NATs, 教育网 for
  the campuses), other provinces' ranges by ISP, and cloud providers' data-centre ranges.

The districts, roads and compounds are real places of Chengdu as a resident names them (from
public maps); the user-agent models are phones sold in China in 2024-2026. Sampling is seeded, so
a rebuild writes the same file.
"""

from __future__ import annotations

import json
import random
import struct
from collections import defaultdict
from pathlib import Path

import phonenumbers
from phonenumbers import geocoder

XDB = Path(str(__import__("ipregion").__file__)).parent / "ip2region.xdb"
OUT = Path(__file__).parent / "data" / "places.json"
SEGMENTS = [
    130,
    131,
    132,
    133,
    135,
    136,
    137,
    138,
    139,
    150,
    151,
    152,
    153,
    155,
    156,
    157,
    158,
    159,
    166,
    173,
    175,
    176,
    177,
    178,
    180,
    181,
    182,
    183,
    185,
    186,
    187,
    188,
    189,
    191,
    198,
    199,
]
VIRTUAL = [162, 165, 167, 170, 171]
CITY = "成都市"
PROVINCE = "四川省"


def _phone_blocks(rng: random.Random) -> dict[str, object]:
    local: list[str] = []
    local_virtual: list[str] = []
    elsewhere: dict[str, list[str]] = defaultdict(list)
    virtual_elsewhere: list[str] = []
    for seg in SEGMENTS + VIRTUAL:
        for mid in range(10000):
            block = f"{seg}{mid:04d}"
            place = geocoder.description_for_number(phonenumbers.parse(f"+86{block}0000"), "zh")
            if not place:
                continue
            if CITY in place:
                (local_virtual if seg in VIRTUAL else local).append(block)
            elif seg in VIRTUAL:
                virtual_elsewhere.append(block)
            elif PROVINCE not in place:
                province = _province(place)
                if province:
                    elsewhere[province].append(block)
    sichuan = [b for seg in SEGMENTS for b in _province_blocks(seg, PROVINCE, CITY)]
    return {
        "local": sorted(rng.sample(local, 900)),
        "local_virtual": sorted(rng.sample(local_virtual, min(150, len(local_virtual)))),
        "sichuan_elsewhere": sorted(rng.sample(sichuan, 200)),
        "elsewhere": {p: sorted(rng.sample(v, min(25, len(v)))) for p, v in sorted(elsewhere.items()) if len(v) >= 25},
        "virtual_elsewhere": sorted(rng.sample(virtual_elsewhere, 200)),
    }


def _province(place: str) -> str | None:
    """The province of a geocoder description (``广东省深圳市``, ``内蒙古包头市``, ``北京市``); None for ``中国``."""
    for region in ("内蒙古", "广西", "宁夏", "新疆", "西藏", "北京市", "上海市", "天津市", "重庆市"):
        if place.startswith(region):
            return region
    return place.split("省")[0] + "省" if "省" in place else None


def _province_blocks(seg: int, province: str, not_city: str) -> list[str]:
    out = []
    for mid in range(0, 10000, 7):
        block = f"{seg}{mid:04d}"
        place = geocoder.description_for_number(phonenumbers.parse(f"+86{block}0000"), "zh")
        if place.startswith(province) and not_city not in place:
            out.append(block)
    return out


def _ip_ranges(rng: random.Random) -> dict[str, object]:
    data = XDB.read_bytes()
    _, _, _, start, end = struct.unpack_from("<HHIII", data, 0)
    local: dict[str, list[list[int]]] = defaultdict(list)
    elsewhere: dict[str, list[list[int]]] = defaultdict(list)
    cloud: dict[str, list[list[int]]] = defaultdict(list)
    for p in range(start, end + 1, 14):
        sip, eip, length, ptr = struct.unpack_from("<IIHI", data, p)
        country, _, province, city, isp = data[ptr : ptr + length].decode().split("|")
        if country != "中国" or eip - sip < 255:
            continue
        span = [sip, eip]
        if city == CITY and isp in ("电信", "联通", "移动", "教育网"):
            local[isp].append(span)
        elif province not in ("0", PROVINCE, "香港", "澳门", "台湾省") and isp in ("电信", "联通", "移动"):
            elsewhere[province].append(span)
        if isp in ("阿里云", "腾讯云", "华为云", "腾讯") and province not in ("0", "香港", "台湾省"):
            cloud[f"{province}|{isp}"].append(span)
    return {
        "local": {isp: sorted(rng.sample(v, min(120, len(v)))) for isp, v in sorted(local.items())},
        "elsewhere": {p: sorted(rng.sample(v, min(30, len(v)))) for p, v in sorted(elsewhere.items()) if len(v) >= 10},
        "cloud": {k: sorted(rng.sample(v, min(20, len(v)))) for k, v in sorted(cloud.items())},
    }


def main() -> None:
    rng = random.Random("rongcheng-places")
    static = json.loads(OUT.read_text("utf-8")) if OUT.exists() else {}
    static["phones"] = _phone_blocks(rng)
    static["ips"] = _ip_ranges(rng)
    static["sources"] = static.get("sources", {}) | {
        "phones": "phonenumbers geocoder (zh), 7-digit blocks; rebuilt by build_data.py",
        "ips": "ip2region.xdb from the ip-region wheel, segment index walked; rebuilt by build_data.py",
    }
    OUT.write_text(json.dumps(static, ensure_ascii=False, indent=1, sort_keys=True) + "\n", "utf-8")


if __name__ == "__main__":
    main()
