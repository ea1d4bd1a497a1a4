"""Hangzhou as a storefront sees it: phone numbers, IPs, addresses, phones and wallets.

Everything here is drawn from public facts, not from the project: phone blocks come from
phonenumbers' geocoder and IPv4 networks from ip2region's database (data/places.json says
how), addresses from the city's real districts, roads and kinds of compounds. Every family,
honest or not, takes its identities from the same makers, so no family has ids, tokens or
user agents of a shape of its own: what tells a farm apart is what its accounts share.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

HEX = "0123456789abcdef"
OPENID = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"  # providers' tokens: never a run of digits a card check would refuse
VIRTUAL_SEGMENTS = ("162", "165", "167", "170", "171")


@cache
def places() -> dict[str, Any]:
    """The phone blocks and IPv4 networks of data/places.json (read once)."""
    data: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "places.json").read_text("utf-8"))
    return data


def token(rng: random.Random, n: int, alphabet: str = HEX) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def customer_id(rng: random.Random) -> str:
    """A mini-program openid: 'o' and 27 characters, the same shape for every customer."""
    return "o" + token(rng, 27, OPENID)


def wallet(rng: random.Random) -> str:
    """A payment provider's token for a wallet or card (never a card number)."""
    kind = rng.choices(("wxpay", "alipay", "unionpay"), (0.72, 0.24, 0.04))[0]
    return f"{kind}_{token(rng, 24, BASE32)}"


# -- phones ----------------------------------------------------------------------------------


def local_phone(rng: random.Random, *, virtual: bool = False) -> str:
    """A Hangzhou mobile number: a random block of a random segment, weighted as carriers are."""
    blocks: dict[str, list[str]] = places()["hangzhou_phone_blocks"]
    segment = "170" if virtual else rng.choice([s for s in blocks if s not in VIRTUAL_SEGMENTS])
    return rng.choice(blocks[segment]) + token(rng, 4, "0123456789")


def provinces() -> list[str]:
    return sorted(places()["province_phone_blocks"])


def remote_block(rng: random.Random, province: str, *, virtual: bool = False) -> str:
    pool: list[str] = places()["province_phone_blocks"][province]
    chosen = (
        [b for b in pool if b[:3] in VIRTUAL_SEGMENTS]
        if virtual
        else [b for b in pool if b[:3] not in VIRTUAL_SEGMENTS]
    )
    return rng.choice(chosen or pool)


def phone_in(rng: random.Random, block: str) -> str:
    return block + token(rng, 4, "0123456789")


def display_phone(rng: random.Random, phone: str, spelling: float = 0.15) -> str:
    """How a storefront forwards a number: mostly bare digits, sometimes +86 or spaced."""
    r = rng.random()
    if r < spelling / 2:
        return "+86" + phone
    if r < spelling:
        return f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    return phone


# -- IPs -------------------------------------------------------------------------------------


def _host(rng: random.Random, net16: str) -> str:
    return f"{net16}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def home_ip(rng: random.Random) -> str:
    """A Hangzhou broadband address (PPPoE: it changes when the router redials)."""
    return _host(rng, rng.choice(places()["hangzhou_ip16"]["broadband"])[0])


class MobileExits:
    """A carrier's CGNAT exits in one place: many phones share a few hundred addresses.

    Honest phones on 4G share exit addresses and /24s with strangers all day, which is
    why an IP is a weak identity; this pool makes that happen in the world.
    """

    def __init__(self, rng: random.Random, nets16: list[str], n_24s: int) -> None:
        self.subnets = [f"{rng.choice(nets16)}.{rng.randrange(256)}" for _ in range(n_24s)]

    def ip(self, rng: random.Random) -> str:
        return f"{rng.choice(self.subnets)}.{rng.randrange(1, 255)}"


def hangzhou_exits(rng: random.Random) -> MobileExits:
    return MobileExits(rng, [n for n, _ in places()["hangzhou_ip16"]["mobile"]], 60)


def province_ip(rng: random.Random, province: str) -> str:
    return _host(rng, rng.choice(places()["province_ip16"][province])[0])


def fixed_ip(rng: random.Random, *, province: str | None = None) -> str:
    """One static address (an office's or a mall's NAT, a shop's line)."""
    return province_ip(rng, province) if province else home_ip(rng)


# -- devices and user agents --------------------------------------------------------------------

ANDROID_MODELS = (
    ("HUAWEI", "NOH-AN00", "12"),
    ("HUAWEI", "ALN-AL00", "12"),
    ("HONOR", "PGT-AN10", "14"),
    ("Xiaomi", "23127PN0CC", "14"),
    ("Redmi", "22081212C", "13"),
    ("Redmi", "M2007J22C", "11"),
    ("OPPO", "PHM110", "14"),
    ("OPPO", "PFDM00", "12"),
    ("vivo", "V2309A", "14"),
    ("vivo", "V2049A", "11"),
    ("OnePlus", "PJD110", "14"),
    ("samsung", "SM-S9180", "14"),
    ("Redmi", "M2004J7AC", "10"),
)
IOS = ("16_6", "17_1", "17_4", "17_6", "18_0", "18_1")
WECHAT = ("8.0.44", "8.0.47", "8.0.49", "8.0.50", "8.0.53")


@dataclass(frozen=True)
class Device:
    """A phone or tablet as the mini-program SDK reports it."""

    id: str
    ua: str
    rooted: bool = False
    emulator: bool = False
    tablet: bool = False


def user_agent(rng: random.Random, *, tablet: bool = False, model: tuple[str, str, str] | None = None) -> str:
    wx = rng.choice(WECHAT)
    if model is None and (rng.random() < 0.38 or (tablet and rng.random() < 0.5)):
        kind = "iPad; CPU OS" if tablet else "iPhone; CPU iPhone OS"
        return (
            f"Mozilla/5.0 ({kind} {rng.choice(IOS)} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            f"Mobile/15E148 MicroMessenger/{wx} NetType/{{net}} Language/zh_CN"
        )
    brand, name, android = model or rng.choice(ANDROID_MODELS)
    if tablet and model is None:
        brand, name, android = rng.choice(
            (("HUAWEI", "BAH3-W59", "10"), ("HONOR", "HEY2-W09", "13"), ("Xiaomi", "22081281AC", "13"))
        )
    return (
        f"Mozilla/5.0 (Linux; Android {android}; {name} Build/{brand.upper()}{android}; wv) AppleWebKit/537.36 "
        f"(KHTML, like Gecko) Version/4.0 Chrome/{rng.choice(('111', '116', '120', '126'))}.0 Mobile Safari/537.36 "
        f"MicroMessenger/{wx} WeChat/arm64 NetType/{{net}} Language/zh_CN MiniProgramEnv/android"
    )


def device(rng: random.Random, *, tablet: bool = False, rooted: float = 0.015) -> Device:
    """An honest-looking device: a random id, a common phone model, rarely rooted."""
    return Device(id=token(rng, 32), ua=user_agent(rng, tablet=tablet), rooted=rng.random() < rooted, tablet=tablet)


# -- addresses ---------------------------------------------------------------------------------

DISTRICTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "西湖区": (
        ("文三路", "文二路", "古墩路", "天目山路", "学院路", "教工路"),
        ("嘉绿苑", "文鼎苑", "翠苑一区", "西溪花园", "府苑新村"),
    ),
    "拱墅区": (
        ("莫干山路", "湖墅南路", "丽水路", "上塘路", "台州路"),
        ("和睦新村", "大关西苑", "运河新城", "瓜山新苑"),
    ),
    "上城区": (
        ("解放路", "望江路", "秋涛路", "清泰街", "凯旋路"),
        ("近江家园", "采荷新村", "景芳三区", "钱江新城嘉德公寓"),
    ),
    "滨江区": (
        ("江南大道", "滨盛路", "长河路", "江虹路", "春波路"),
        ("东方郡", "江南人家", "钱龙大厦公寓", "白金海岸"),
    ),
    "余杭区": (
        ("文一西路", "五常大道", "良睦路", "荆长大道"),
        ("西溪诚园", "和家园", "未来科技城海创小区", "溪望雅苑"),
    ),
    "萧山区": (("市心路", "金城路", "建设一路", "晨晖路"), ("金色钱塘", "湘湖人家", "世纪花城", "信息港小区")),
}
FULL_WIDTH = str.maketrans({str(d): chr(0xFF10 + d) for d in range(10)})  # full-width digits


@dataclass(frozen=True)
class Place:
    """One delivery point: a flat, or a parcel locker (丰巢) at a compound's gate."""

    district: str
    road: str
    number: int
    compound: str
    building: int
    unit: int
    room: int
    locker: str = ""


def place(rng: random.Random, *, district: str | None = None, compound: str | None = None) -> Place:
    district = district or rng.choice(list(DISTRICTS))
    roads, compounds = DISTRICTS[district]
    return Place(
        district=district,
        road=rng.choice(roads),
        number=rng.randrange(1, 900),
        compound=compound or rng.choice(compounds),
        building=rng.randrange(1, 30),
        unit=rng.randrange(1, 5),
        room=rng.randrange(1, 27) * 100 + rng.randrange(1, 5),
    )


def locker(rng: random.Random, base: Place) -> Place:
    gate = rng.choice(("南门", "北门", "东门", "西门", "2号门"))
    return Place(base.district, base.road, base.number, base.compound, 0, 0, 0, locker=f"{gate}丰巢快递柜")


STYLES = ("full", "no_province", "no_city", "short", "spaced", "dashed", "full_width", "traditional")


def address(p: Place, style: str) -> str:
    """``p`` typed the way one person types it (styles differ in what is left out and how)."""
    head = {"full": "浙江省杭州市", "no_city": "", "short": "杭州", "spaced": "浙江省 杭州市 "}.get(style, "杭州市")
    if p.locker:
        body = f"{p.district}{p.road}{p.number}号{p.compound}{p.locker}"
        if style in ("short", "dashed"):
            body = f"{p.district}{p.compound}{p.locker}"
    elif style == "dashed":
        body = f"{p.district}{p.compound}{p.building}-{p.unit}-{p.room}"
    elif style == "short":
        body = f"{p.district}{p.compound}{p.building}幢{p.unit}单元{p.room}"
    else:
        sep = " " if style == "spaced" else ""
        building = "栋" if style in ("no_city", "spaced") else "幢"
        body = (
            f"{p.district}{sep}{p.road}{p.number}号{sep}{p.compound}{sep}{p.building}{building}{p.unit}单元{p.room}室"
        )
    text = head + body
    if style == "full_width":
        text = text.translate(FULL_WIDTH)
    if style == "traditional":
        text = text.replace("号", "號").replace("单元", "單元")
    return text
