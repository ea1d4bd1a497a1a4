"""Where simulated people live, and how they type it: addresses and local phone numbers.

A farm's shared back end shows in one delivery address typed several ways, so an
address is drawn as a :class:`Place` (city, district, road, number, building, room)
and *rendered* by whoever types it: an honest parent types their home the same way
every time, a farmer's accounts type the one locker or flat with full-width digits,
号/號, 栋/幢/座, a missing city, spaces or a missing 室. A normalizer that folds these
variants sees one place; the raw strings differ.

Honest parents mostly carry numbers from the studio's city (Beijing); farms buy numbers
from anywhere. ``LOCAL_PREFIXES`` are 7-digit mobile prefixes that ``phonenumbers``'
geocoder places in 北京市 (a test checks every one), so a service-area feature built on
the geocoder sees locals as local.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

CITY = "北京市"
DISTRICTS = ("朝阳区", "海淀区", "东城区", "西城区", "丰台区", "通州区", "昌平区", "大兴区")
ROADS = ("望京街", "学院路", "和平里东街", "花园路", "安立路", "建国路", "广渠路", "北苑路", "回龙观东大街")
#: Parcel lockers and pick-up points farms ship to (one place, many accounts).
LOCKERS = (
    ("朝阳区", "幸福路", 88, "菜鸟驿站代收点"),
    ("海淀区", "学院路", 12, "丰巢快递柜"),
    ("丰台区", "北苑路", 7, "速递易自提柜"),
    ("通州区", "新华大街", 105, "妈妈驿站"),
)
_FULL_WIDTH = {ord("0") + d: 0xFF10 + d for d in range(10)}  # 0-9 -> full-width digits

#: 7-digit mobile prefixes the geocoder places in 北京市 (ordinary carriers and one MVNO block).
LOCAL_PREFIXES = (
    "1300110", "1301106", "1303105", "1304113", "1312009", "1312154", "1316106", "1324041", "1326021",
    "1331119", "1332107", "1334110", "1349058", "1349325", "1351109", "1352129", "1355235", "1360130",
    "1364102", "1366119", "1367120", "1370134", "1371822", "1372006", "1380064", "1380137", "1381008",
    "1381062", "1390129", "1391027", "1391063", "1391116", "1501002", "1501010", "1501103", "1510154",
    "1511010", "1511026", "1520113", "1521003", "1521032", "1530103", "1531100", "1550115", "1551010",
    "1561144", "1570145", "1579124", "1581011", "1581057", "1590103", "1591067", "1770013", "1771087",
    "1800100", "1801030", "1810003", "1820123", "1821014", "1830134", "1831011", "1831110", "1850053",
    "1851507", "1860088", "1861006", "1861127", "1870136", "1871016", "1880001", "1881011", "1881144",
    "1890018", "1891011", "1891110",
)  # fmt: skip
LOCAL_VIRTUAL_PREFIXES = ("1700013", "1705853", "1707008", "1707140", "1709000")


@dataclass(frozen=True, slots=True)
class Place:
    """One delivery point; ``render`` types it."""

    district: str
    road: str
    number: int
    building: int | None = None  # 栋
    unit: int | None = None  # 单元
    room: int | None = None  # 室
    name: str = ""  # a locker's or pick-up point's name

    @classmethod
    def home(cls, rng: random.Random) -> Place:
        unit = rng.randint(1, 4) if rng.random() < 0.4 else None
        return cls(
            district=rng.choice(DISTRICTS),
            road=rng.choice(ROADS),
            number=rng.randrange(1, 300),
            building=rng.randrange(1, 30),
            unit=unit,
            room=rng.randrange(101, 2805),
        )

    @classmethod
    def locker(cls, rng: random.Random) -> Place:
        district, road, number, name = rng.choice(LOCKERS)
        return cls(district=district, road=road, number=number, name=name)

    def render(self, rng: random.Random | None = None) -> str:
        """The plain form (``rng`` None), or one variant a person in a hurry types."""
        if rng is None:
            return self._text(city=False, hao="号", dong="栋", room="室", sep="")
        text = self._text(
            city=rng.random() < 0.5,
            hao="號" if rng.random() < 0.25 else "号",
            dong=rng.choice(("栋", "栋", "幢", "座", "号楼")),
            room=rng.choice(("室", "室", "", "号")),
            sep=rng.choice(("", "", " ", ",")),
        )
        return text.translate(_FULL_WIDTH) if rng.random() < 0.3 else text

    def _text(self, *, city: bool, hao: str, dong: str, room: str, sep: str) -> str:
        parts = [f"{CITY if city else ''}{self.district}{self.road}{self.number}{hao}"]
        if self.name:
            parts.append(self.name)
        if self.building is not None:
            parts.append(f"{self.building}{dong}")
        if self.unit is not None:
            parts.append(f"{self.unit}单元")
        if self.room is not None:
            parts.append(f"{self.room}{room}")
        return sep.join(parts)


def local_phone(rng: random.Random, virtual: bool = False) -> str:
    """A number the geocoder places in the studio's city."""
    prefix = rng.choice(LOCAL_VIRTUAL_PREFIXES if virtual else LOCAL_PREFIXES)
    return f"{prefix}{rng.randrange(10**4):04d}"
