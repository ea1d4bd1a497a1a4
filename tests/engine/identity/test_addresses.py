"""One place, one key: real-world spellings of Chinese delivery addresses, and the hard negatives.

Each SAME pair is one flat (or door) typed two ways, as customers and farms type them;
each DIFFERENT pair is two places a careless folding would merge. The table is what
docs/features.md's accuracy statement rests on.
"""

# ruff: noqa: RUF001 - full-width digits, letters and punctuation are what these tests fold

from __future__ import annotations

import contextlib
import time

import pytest

from engine.identity.addresses import canonical_address, parse_address
from engine.identity.addresses_fold import chinese_number, fold_street

SAME: list[tuple[str, str]] = [
    # full-width digits and letters, spaces, punctuation
    ("浙江省杭州市西湖区文三路100号3栋2单元501室", "浙江省杭州市西湖区文三路１００号３栋２单元５０１室"),
    ("浙江省杭州市西湖区文三路100号3栋2单元501室", "浙江省 杭州市 西湖区 文三路 100号 3栋 2单元 501室"),
    ("浙江省杭州市西湖区文三路100号3栋2单元501室", "浙江省，杭州市，西湖区，文三路100号（3栋2单元501室）"),
    ("上海市徐汇区虹漕路461号58号楼5楼", "上海市徐汇区虹漕路４６１号５８号楼５楼"),
    ("广东省深圳市南山区科技园科苑路15号A座1201", "广东省深圳市南山区科技园科苑路15号Ａ座1201"),
    # a missing province, city or both, short forms
    ("浙江省杭州市西湖区文三路100号", "杭州市西湖区文三路100号"),
    ("浙江省杭州市西湖区文三路100号", "西湖区文三路100号"),
    ("浙江省杭州市西湖区文三路100号", "浙江杭州西湖区文三路100号"),
    ("北京市朝阳区建国路88号", "朝阳区建国路88号"),
    ("北京市朝阳区建国路88号", "北京朝阳区建国路88号"),
    ("上海市浦东新区张江路88号", "上海浦东新区张江路88号"),
    ("上海市浦东新区张江路88号", "浦东新区张江路88号"),
    ("广东省深圳市南山区科苑路15号", "深圳市南山区科苑路15号"),
    ("广东省深圳市南山区科苑路15号", "深圳南山区科苑路15号"),
    ("江苏省南京市鼓楼区中山路1号", "南京市鼓楼区中山路1号"),
    ("吉林省长春市朝阳区人民大街1号", "吉林长春朝阳区人民大街1号"),
    ("中国浙江省杭州市西湖区文三路100号", "浙江省杭州市西湖区文三路100号"),
    ("中华人民共和国北京市海淀区学院路20号", "北京市海淀区学院路20号"),
    # 号 / 號 and other traditional forms
    ("北京市海淀区学院路20号", "北京市海淀區學院路20號"),
    ("西湖区文三路100号3栋2单元501室", "西湖區文三路100號3棟2單元501室"),
    ("上海市徐汇区虹漕路461号58号楼", "上海市徐匯區虹漕路461號58號樓"),
    # 栋 / 幢 / 座 / 号楼 / #
    ("西湖区文三路100号3栋", "西湖区文三路100号3幢"),
    ("西湖区文三路100号3栋", "西湖区文三路100号3号楼"),
    ("西湖区文三路100号3栋", "西湖区文三路100号3座"),
    ("西湖区文三路100号3栋", "西湖区文三路100号3#楼"),
    ("西湖区文三路100号3栋501", "西湖区文三路100号3#501"),
    # 单元 / 门, 室 / 房 / 户 / a bare room number
    ("北京市西城区金融大街3号楼2单元501室", "北京市西城区金融大街3号楼2门501"),
    ("北京市西城区金融大街3号楼2单元501室", "北京市西城区金融大街3号楼2单元501"),
    ("北京市西城区金融大街3号楼2单元501室", "北京市西城区金融大街3号楼2单元501房"),
    ("北京市西城区金融大街3号楼2单元501室", "北京市西城区金融大街3号楼2单元501户"),
    ("北京市西城区金融大街3号楼2单元501室", "北京市西城区金融大街3楼2单元501"),
    # dashes: building-unit-room, building-room
    ("西湖区文三路100号3栋2单元501室", "西湖区文三路100号3-2-501"),
    ("西湖区文三路100号3栋2单元501室", "西湖区文三路100号3栋2-501"),
    ("西湖区文三路100号3栋501室", "西湖区文三路100号3-501"),
    # Chinese numerals where a number is meant
    ("北京市朝阳区建国路88号", "北京市朝阳区建国路八十八号"),
    ("西湖区文三路100号3栋2单元501室", "西湖区文三路一百号三栋二单元五〇一室"),
    ("西湖区文三路100号12栋", "西湖区文三路100号十二幢"),
    ("丰台区草桥欣园2区5号楼", "丰台区草桥欣园二区5号楼"),
    # leading zeros, a floor the room number already says
    ("西湖区文三路100号3栋501室", "西湖区文三路100号03栋0501室"),
    ("上海市浦东新区张江路88号5栋1201室", "浦东新区 张江路 88号 5栋 12楼 1201室"),
    ("上海市浦东新区张江路88号5栋1201室", "上海浦东新区张江路88号5#1201"),
    # 号院 is the compound at that number
    ("北京市朝阳区建国路88号3栋", "北京市朝阳区建国路88号院3号楼"),
    # Shanghai lanes (弄)
    ("上海市静安区愚园路1234弄5号501室", "上海静安区愚园路１２３４弄５号５０１"),
    # a parcel point typed with and without spaces
    ("幸福路88号菜鸟驿站代收点", "幸福路 88号 菜鸟驿站 代收点"),
    # a district without its 区 / 县 / 新区 (issue 14: one flat split in two)
    ("北京市朝阳区望京街10号3栋501室", "北京市朝阳望京街10号3栋501室"),
    ("北京市朝阳区望京街10号3栋501室", "北京朝阳望京街10号3幢501"),
    ("杭州市西湖区文三路100号", "杭州西湖文三路100号"),
    ("深圳市南山区科技园路1号", "深圳南山科技园路1号"),
    ("北京市海淀区学院路12号", "海淀学院路12号"),
    ("上海市浦东新区世纪大道1号", "上海浦东世纪大道1号"),
    # a named compound with and without its gate's road (issue 14, session 8: a farm's drop point typed both ways)
    ("浙江省杭州市拱墅区莫干山路529号运河新城西门丰巢快递柜", "杭州拱墅区运河新城西门丰巢快递柜"),
    ("杭州市滨江区江虹路295号东方郡11幢1单元2401室", "杭州市滨江区东方郡11-1-2401"),
    ("杭州市拱墅区莫干山路586號瓜山新苑2號门丰巢快递柜", "杭州市拱墅区瓜山新苑2号门丰巢快递柜"),
    ("杭州市萧山区市心路１３８号湘湖人家３幢２单元１２０２室", "萧山区湘湖人家3-2-1202"),
    ("杭州市西湖区西湖街道文三路90号东部软件园3号楼501", "杭州市西湖区东部软件园3栋501室"),
]

DIFFERENT: list[tuple[str, str]] = [
    # same road, different number
    ("北京市朝阳区建国路88号", "北京市朝阳区建国路89号"),
    ("浙江省杭州市西湖区文三路100号", "浙江省杭州市西湖区文三路10号"),
    # same building, different room / unit / building
    ("西湖区文三路100号3栋2单元501室", "西湖区文三路100号3栋2单元502室"),
    ("西湖区文三路100号3栋2单元501室", "西湖区文三路100号3栋1单元501室"),
    ("西湖区文三路100号3栋2单元501室", "西湖区文三路100号4栋2单元501室"),
    ("上海市浦东新区张江路88号5栋1201室", "上海市浦东新区张江路88号5栋1202室"),
    # 路 is not 街
    ("北京市海淀区学院路20号", "北京市海淀区学院街20号"),
    ("江苏省南京市鼓楼区中山路1号", "江苏省南京市鼓楼区中山街1号"),
    # two districts (or cities) with the same road name
    ("北京市朝阳区建国路88号", "北京市东城区建国路88号"),
    ("北京市朝阳区建国路88号", "吉林省长春市朝阳区建国路88号"),
    ("浙江省杭州市西湖区文三路100号", "江西省南昌市西湖区文三路100号"),
    ("江苏省南京市鼓楼区中山路1号", "福建省福州市鼓楼区中山路1号"),
    ("上海市黄浦区南京东路300号", "上海市静安区南京西路300号"),
    # a road number is not a building number
    ("西湖区文三路100号3栋", "西湖区文三路3号100栋"),
    # the district is not the street: 中山路 without a district is no city
    ("中山路100号", "广东省中山市中山路100号"),
    # a lane number is not a house number
    ("上海市静安区愚园路1234弄5号", "上海市静安区愚园路1234号5弄"),
    # a district's short name followed by a street word is the street (朝阳路), not the district
    ("北京市朝阳路8号", "北京市朝阳区8号"),
    # a short name that is also a city's, with no city named, stays the city (辽宁朝阳市)
    ("朝阳望京街10号", "北京市朝阳区望京街10号"),
    # the road stays before what is not a compound's name: a gate, a chain's parcel point, a building
    ("杭州市西湖区中山路12号东门", "杭州市西湖区中山路14号东门"),
    ("杭州市西湖区中山路12号门口", "杭州市西湖区中山路14号门口"),
    ("幸福路88号菜鸟驿站代收点", "幸福路90号菜鸟驿站代收点"),
    ("杭州市拱墅区莫干山路529号丰巢快递柜", "杭州市拱墅区莫干山路531号丰巢快递柜"),
    ("西湖区文三路100号3栋2单元501室", "西湖区文三路102号3栋2单元501室"),
    # two compounds of one name in two districts stay apart once the road is gone
    ("杭州市滨江区江虹路295号东方郡11栋1单元2401室", "杭州市萧山区东方郡11栋1单元2401室"),
]


@pytest.mark.parametrize(("left", "right"), SAME)
def test_two_spellings_of_one_place_have_one_key(left: str, right: str) -> None:
    assert canonical_address(left) == canonical_address(right)


@pytest.mark.parametrize(("left", "right"), DIFFERENT)
def test_two_different_places_keep_two_keys(left: str, right: str) -> None:
    assert canonical_address(left) != canonical_address(right)


def test_the_table_is_at_least_fifty_real_pairs() -> None:
    assert len(SAME) + len(DIFFERENT) >= 50
    assert len(DIFFERENT) >= 15


def test_a_district_alone_is_filled_with_its_city_and_province() -> None:
    parsed = parse_address("南山区科苑路15号")
    assert (parsed.province, parsed.city, parsed.district) == ("广东省", "深圳市", "南山区")
    assert parsed.street == "科苑路15号"


def test_a_place_name_inside_the_street_is_not_read_as_a_city() -> None:
    assert parse_address("南京东路300号").province == ""
    assert parse_address("北京市中山路1号").key == "北京市/北京市//中山路1号"


@pytest.mark.parametrize(
    ("text", "value"), [("十", 10), ("十二", 12), ("二十", 20), ("二百零五", 205), ("五〇一", 501)]
)
def test_chinese_numerals(text: str, value: int) -> None:
    assert chinese_number(text) == value


def test_road_names_with_numerals_are_not_rewritten() -> None:
    assert fold_street("三里屯路19号") == "三里屯路19号"
    assert fold_street("第一大街5号") == "第一大街5号"


@pytest.mark.parametrize("junk", ["--", " ,，。 ", "（）"])
def test_an_address_with_nothing_in_it_is_refused(junk: str) -> None:
    with pytest.raises(ValueError, match="address"):
        canonical_address(junk)


@pytest.mark.parametrize("hostile", ["1-" * 256, "１" * 512, "一" * 511 + "号", "1" * 511 + "号", "北京市" * 170])
def test_a_hostile_address_costs_well_under_a_millisecond_or_so(hostile: str) -> None:
    """Every rule is linear: the 512 characters a caller may send cost ~0.5 ms, not the ~70 ms of ``[0-9]+$``."""
    best = min(_timed(hostile[:512]) for _ in range(5))
    assert best < 0.02  # generous for a loaded CI box; typically 0.3-0.6 ms


def _timed(text: str) -> float:
    start = time.perf_counter()
    with contextlib.suppress(ValueError):
        parse_address.__wrapped__(text)
    return time.perf_counter() - start
