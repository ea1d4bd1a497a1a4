"""``ip.outside_area``: an address's province against the merchant's service area, as a caller can send it.

The caller (or the farm behind it) controls the address: a dial-up vendor's line of
another province, the same host spelt as an IPv4-mapped IPv6 address, a private or
reserved address, IPv6 (ip2region is IPv4), an address abroad. Only a known province
outside the area, or a public address abroad, counts; nothing the caller sends makes an
account look *more* local than its address is, and an address nobody can place is
missing (neither local nor far).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.compile.pack import compile_files
from engine.events import Event
from engine.rule_engine import prepare

PACK = """pack: {name: area, service_area: [北京, 天津, 河北]}
decision: {review_at: 40, deny_at: 80}
tiers:
  - {id: occasional, default: true}
rules:
  - id: far_line
    code: 1
    on: [signup]
    when: ip.outside_area
    score: 40
    reason: {zh: 外地线路, en: out-of-area line}
  - id: near_line
    code: 2
    on: [signup]
    when: ip.outside_area == false
    score: 1
    reason: {zh: 本地线路, en: local line}
"""


@pytest.fixture(scope="module")
def loaded():  # type: ignore[no-untyped-def]
    ruleset = prepare({"p.yaml": PACK}, "python")
    yield ruleset
    ruleset.matcher.close()


def _signup(ip: str | None) -> Event:
    return Event(event_id="e", type="signup", customer="c", ip=ip, timestamp=datetime.now(UTC))


@pytest.mark.parametrize(
    ("ip", "rules"),
    [
        ("121.238.66.20", ["far_line"]),  # a Jiangsu line: a dial-up vendor's, or a parent away
        ("::ffff:121.238.66.20", ["far_line"]),  # the same host through a dual-stack proxy
        ("::FFFF:79ee:4214", ["far_line"]),  # and spelt in hex
        ("8.8.8.8", ["far_line"]),  # abroad
        ("123.112.9.30", ["near_line"]),  # a Beijing line: inside the area
        ("10.1.2.3", []),  # private: places nobody
        ("192.168.1.2", []),
        ("100.64.1.1", []),  # carrier-grade NAT space
        ("198.51.100.7", []),  # documentation range
        ("2409:8a00::1", []),  # IPv6: the database is IPv4, so missing, not local
        (None, []),  # no address
    ],
)
def test_only_a_placed_address_outside_the_area_counts(loaded, ip: str | None, rules: list[str]) -> None:  # type: ignore[no-untyped-def]
    evaluation = loaded.evaluate(_signup(ip), {})
    assert [r.rule for r in evaluation.reasons] == rules


def test_a_pack_reading_it_without_any_area_is_told_where() -> None:
    """No declared area and learning turned off: nothing could place the store (engine/area)."""
    pack = PACK.replace(", service_area: [北京, 天津, 河北]", ", service_area_learned: false")
    ruleset, diagnostics = compile_files({"p.yaml": pack})
    assert ruleset is None
    assert [d.render() for d in diagnostics] == [
        "p.yaml:6:9 MISSING_FIELD 'ip.outside_area' compares the address's province with the merchant's:"
        " declare pack.service_area"
    ]


def test_a_pack_that_never_reads_it_never_computes_it() -> None:
    text = PACK.replace("when: ip.outside_area == false", "when: event.ip == '10.0.0.1'")
    text = text.replace("when: ip.outside_area", "when: ip.subnet == '121.238.66.0/24'")
    ruleset = prepare({"p.yaml": text}, "python")
    try:
        assert ruleset.ruleset.service_area is None
        facts = ruleset.fact_builder.build(_signup("121.238.66.20"), {})
        assert "ip.outside_area" not in facts and facts["ip.subnet"] == "121.238.66.0/24"
    finally:
        ruleset.matcher.close()
