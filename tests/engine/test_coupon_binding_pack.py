"""The pack's coupon_bindings: mistakes are diagnostics at file:line:col with a code."""

from __future__ import annotations

from engine.compile.pack import compile_files
from engine.diagnostics import Code
from engine.features.spec import OUTSIDE_BINDING, BindingFeature

PACK = """pack: {name: p, timezone: Asia/Shanghai}
tiers:
  - {id: everyone, default: true}
rules:
  - {id: resold, code: 1, on: [coupon_claim], when: coupon.outside_binding, score: 40, reason: {zh: 转卖, en: resold}}
coupon_bindings:
BINDINGS"""


def compile_bindings(bindings: str) -> tuple[object, list[str]]:
    ruleset, diagnostics = compile_files({"pack.yaml": PACK.replace("BINDINGS", bindings)})
    return ruleset, [f"{d.location.line}:{d.location.col} {d.code.value} {d.message}" for d in diagnostics]


def test_bindings_compile_into_the_built_in_feature() -> None:
    ruleset, diagnostics = compile_bindings(
        "  - {prefix: QUN09-, group: parents-09}\n  - {codes: [RAIN-A], campaign: red_packet_rain}\n"
    )
    assert diagnostics == [] and ruleset is not None
    feature = ruleset.features[OUTSIDE_BINDING]  # type: ignore[attr-defined]
    assert isinstance(feature, BindingFeature)
    assert feature.binding_of("QUN09-7F") and feature.binding_of("RAIN-A") and feature.binding_of("X") is None


def test_a_binding_names_one_place_and_some_codes() -> None:
    ruleset, diagnostics = compile_bindings(
        "  - {prefix: QUN09-, group: parents-09, campaign: rain}\n  - {group: parents-10}\n"
    )
    assert ruleset is None
    assert diagnostics[0].startswith("7:5 ") and "exactly one of 'group' or 'campaign'" in diagnostics[0]
    assert diagnostics[1].startswith("8:5 ") and "'codes', a 'prefix' or both" in diagnostics[1]
    assert all(Code.INVALID_VALUE.value in d for d in diagnostics)


def test_a_code_bound_twice_is_a_duplicate() -> None:
    ruleset, diagnostics = compile_bindings(
        "  - {codes: [A1, B2], group: parents-09}\n  - {codes: [B2], campaign: rain}\n"
    )
    assert ruleset is None
    assert diagnostics == ["8:14 DUPLICATE_ID code 'B2' is bound twice"]
