"""The city's makers: ids, phones, lines, addresses and phones' user agents, the same for every family.

No family can be told apart by the shape of an id: customers, devices, wallets and group-buy
ids all come from here. Phones are numbers in real 7-digit blocks (``data/places.json``, from
phonenumbers' geocoder), IPs lie in real ranges of ip2region's database, addresses are real
districts, roads and compounds of Chengdu typed the ways people type them.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLACES: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "places.json").read_text("utf-8"))
_FULL = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))  # full-width digits
_HEX = "0123456789abcdef"


@dataclass
class Phone:
    """A handset as the SDK sees it: its device id, model, OS and WeChat version."""

    device: str
    platform: str
    model: str
    os: str
    wechat: str

    def user_agent(self, net: str) -> str:
        if self.platform == "ios":
            kind = "iPad; CPU OS" if self.model.startswith("iPad") else "iPhone; CPU iPhone OS"
            return (
                f"Mozilla/5.0 ({kind} {self.os} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Mobile/15E148 MicroMessenger/{self.wechat}(0x1800{sum(map(ord, self.wechat)) * 37 % 65536:04x}) "
                f"NetType/{net} Language/zh_CN miniProgram/wx3b1f6e07c0a2d5e1"
            )
        return (
            f"Mozilla/5.0 (Linux; Android {self.os}; {self.model} Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
            f"(KHTML, like Gecko) Version/4.0 Chrome/122.0.6261.120 Mobile Safari/537.36 XWEB/1220133 "
            f"MMWEBSDK/20240404 MicroMessenger/{self.wechat}(0x28003{self.wechat[-3:]}) WeChat/arm64 Weixin "
            f"NetType/{net} Language/zh_CN ABI/arm64 miniProgram/wx3b1f6e07c0a2d5e1"
        )


@dataclass
class Place:
    """A flat (or a parcel point) of the city, rendered the way each person types it."""

    district: str
    road: str
    number: int
    compound: str
    building: int = 0
    unit: int = 0
    room: int = 0
    locker: str = ""

    def typed(self, style: int) -> str:
        """One of nine spellings of the place: province and city or not, 栋/幢/号楼, 3-2-502, 號, full width."""
        d, r, n, c = self.district, self.road, self.number, self.compound
        if self.locker:
            spots = [
                f"{d}{r}{n}号{c}{self.locker}",
                f"成都市{d}{c}{self.locker}",
                f"{c}{self.locker}",
                f"四川省成都市{d}{r}{n}号{self.locker}",
                f"{r}{n}號{c}{self.locker}\uff08代收\uff09",
                f"成都{d}{c}东门{self.locker}",
                f"{d} {c} {self.locker}",
                f"{c}{self.locker}".translate(_FULL),
            ]
            return spots[style % len(spots)]
        b, u, m = self.building, self.unit, self.room
        forms = [
            f"四川省成都市{d}{r}{n}号{c}{b}栋{u}单元{m}室",
            f"成都市{d}{c}{b}栋{u}单元{m}",
            f"{d}{r}{n}号{b}-{u}-{m}",
            f"成都{d}{r}{n}號{c}{b}幢{u}单元{m}室",
            f"{d}{r}{n}号{c}{b}栋{u}单元{m}".translate(_FULL),
            f"四川 成都 {d}, {r}{n}号 {b}栋 {u}单元 {m}",
            f"{c}{b}号楼{u}单元{m}室",
            f"{d}{c}{b}座{u}单元{m}号",
            f"四川省成都市{d}{c}{b}-{u}-{m}",
        ]
        return forms[style % len(forms)]


@dataclass
class Line:
    """A network a person reaches the app from: a home broadband line that redials now and then, or a NAT."""

    ranges: list[list[int]]
    ip: str = ""
    sticky: float = 0.9  # chance the next request keeps the same address
    history: list[str] = field(default_factory=list)

    def address(self, rng: random.Random) -> str:
        if not self.ip or rng.random() > self.sticky:
            lo, hi = rng.choice(self.ranges)
            self.ip = str(ipaddress.IPv4Address(rng.randint(lo + 1, max(lo + 1, hi - 1))))
        return self.ip


class City:
    """Every maker a story draws from, on the world's one ``random.Random``."""

    def __init__(self, rng: random.Random, taken: set[str] | None = None) -> None:
        self.rng = rng
        self.phones_table = PLACES["phones"]
        self.ips = PLACES["ips"]
        self.districts = PLACES["districts"]
        self.devices = PLACES["devices"]
        self._taken: set[str] = set() if taken is None else taken

    # -- ids -------------------------------------------------------------------------
    def _token(self, prefix: str, digits: int) -> str:
        while True:
            value = prefix + "".join(self.rng.choice(_HEX) for _ in range(digits))
            if value not in self._taken:
                self._taken.add(value)
                return value

    def customer(self) -> str:
        return self._token("wx", 12)

    def wallet(self) -> str:
        """A payment provider's token: never a run of digits a card number could hide in (the API refuses those)."""
        while True:
            token = self._token("pw", 14)
            if not re.search(r"[0-9]{10,}", token):
                return token

    def groupbuy(self) -> str:
        return self._token("gb", 10)

    def packet(self) -> str:
        return self._token("rp", 10)

    def phone(self, *, platform: str | None = None, model: str | None = None, tablet: bool = False) -> Phone:
        rng = self.rng
        platform = platform or ("ios" if rng.random() < 0.42 else "android")
        if tablet:
            model_os = rng.choice(self.devices["tablets"])
            platform = "ios" if model_os[0].startswith("iPad") else "android"
        else:
            model_os = rng.choice(self.devices[platform])
            if model:
                model_os = next(m for m in self.devices[platform] if m[0] == model)
        wechat = rng.choice(self.devices["wechat_ios" if platform == "ios" else "wechat_android"])
        return Phone(self._token("", 16), platform, model_os[0], model_os[1], wechat)

    def respoof(self, phone: Phone) -> Phone:
        """The same handset reporting a new device id (改机: a reset or a hook), the rest unchanged."""
        return Phone(self._token("", 16), phone.platform, phone.model, phone.os, phone.wechat)

    # -- numbers ---------------------------------------------------------------------
    def number(self, where: str = "local", block: str | None = None) -> str:
        """An 11-digit mobile number: ``local`` (成都), ``sichuan``, ``elsewhere``, ``virtual`` or a given block."""
        rng, t = self.rng, self.phones_table
        if block is None:
            if where == "local":
                block = rng.choice(t["local"])
            elif where == "sichuan":
                block = rng.choice(t["sichuan_elsewhere"])
            elif where == "virtual":
                block = rng.choice(t["local_virtual"] if rng.random() < 0.5 else t["virtual_elsewhere"])
            else:
                block = rng.choice(
                    t["elsewhere"][where] if where in t["elsewhere"] else t["elsewhere"][self.province()]
                )
        while True:
            number = f"{block}{rng.randrange(10000):04d}"
            if number not in self._taken:
                self._taken.add(number)
                return number

    def province(self) -> str:
        return str(self.rng.choice(sorted(self.phones_table["elsewhere"])))

    def typed_number(self, number: str) -> str:
        """How a storefront forwards what was typed: mostly bare, sometimes +86, sometimes with spaces."""
        roll = self.rng.random()
        if roll < 0.8:
            return number
        if roll < 0.93:
            return "+86" + number
        return f"{number[:3]} {number[3:7]} {number[7:]}"

    def email(self, name_hint: str | None = None) -> str:
        rng = self.rng
        domains = PLACES["email_domains"]
        domain = rng.choices([d for d, _ in domains], weights=[w for _, w in domains])[0]
        if domain in ("qq.com", "foxmail.com") and rng.random() < 0.7:
            local = str(rng.randrange(10**7, 10**10))
        else:
            local = (name_hint or rng.choice(PLACES["pinyin_names"])) + rng.choice(
                ["", str(rng.randrange(1970, 2005)), str(rng.randrange(100, 9999))]
            )
        return f"{local}@{domain}"

    # -- networks --------------------------------------------------------------------
    def home_line(self, where: str = "local") -> Line:
        if where == "local":
            isp = self.rng.choices(["电信", "移动", "联通"], weights=[55, 30, 15])[0]
            return Line(self.ips["local"][isp], sticky=0.97)
        return Line(self.ips["elsewhere"][self._ip_key(where)], sticky=0.97)

    def mobile_line(self, where: str = "local") -> Line:
        """A carrier's 4G/5G exit: a few shared NAT addresses, changing between requests."""
        if where == "local":
            isp = self.rng.choices(["移动", "电信", "联通"], weights=[50, 30, 20])[0]
            pool = self.rng.sample(self.ips["local"][isp], 3)
        else:
            pool = self.rng.sample(self.ips["elsewhere"][self._ip_key(where)], 2)
        return Line(pool, sticky=0.35)

    def campus_line(self) -> Line:
        return Line(self.rng.sample(self.ips["local"]["教育网"], 1), sticky=0.995)

    def fixed_line(self, ranges: list[list[int]]) -> Line:
        return Line([self.rng.choice(ranges)], sticky=1.0)

    def cloud_ranges(self) -> list[list[int]]:
        key = self.rng.choice(sorted(self.ips["cloud"]))
        return list(self.ips["cloud"][key])

    def _ip_key(self, where: str) -> str:
        """A phone-table province (``北京市``, ``广东省``) as ip2region names it (``北京``, ``广东省``)."""
        key = where.removesuffix("市")
        return key if key in self.ips["elsewhere"] else self._ip_province()

    def _ip_province(self) -> str:
        return str(self.rng.choice(sorted(self.ips["elsewhere"])))

    def ip_province(self) -> str:
        return self._ip_province()

    # -- places ----------------------------------------------------------------------
    def flat(self, district: str | None = None) -> Place:
        rng = self.rng
        district = district or rng.choice(sorted(self.districts))
        d = self.districts[district]
        return Place(
            district,
            rng.choice(d["roads"]),
            rng.randrange(1, 400),
            rng.choice(d["compounds"]),
            rng.randrange(1, 24),
            rng.randrange(1, 4),
            rng.randrange(1, 33) * 100 + rng.randrange(1, 5),
        )

    def locker(self, district: str | None = None) -> Place:
        place = self.flat(district)
        place.locker = self.rng.choice(PLACES["lockers"])
        return place
