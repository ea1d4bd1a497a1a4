"""``phone.outside_area``: a number's province against the merchant's service area, as a caller can send it.

The caller controls the number: a code platform's (接码) number from Beijing, a virtual
operator's, a foreign one, the same number typed three ways. Only a known province
outside the area counts; nothing the caller sends makes an account look *more* local
than its number is.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.compile.pack import compile_files
from engine.events import Event
from engine.rule_engine import prepare

PACK = """pack: {name: area, service_area: [上海, 江苏, 浙江]}
decision: {review_at: 40, deny_at: 80}
tiers:
  - {id: occasional, default: true}
rules:
  - id: far_number
    code: 1
    on: [signup]
    when: phone.outside_area
    score: 40
    reason: {zh: 外地号码, en: out-of-area number}
"""


@pytest.fixture(scope="module")
def loaded():  # type: ignore[no-untyped-def]
    ruleset = prepare({"p.yaml": PACK}, "python")
    yield ruleset
    ruleset.matcher.close()


def _signup(phone: str | None) -> Event:
    return Event(event_id="e", type="signup", customer="c", phone=phone, timestamp=datetime.now(UTC))


@pytest.mark.parametrize(
    ("phone", "hit"),
    [
        ("13501234567", True),  # a Beijing block: rented from anywhere in the country
        ("+86 135 0123 4567", True),  # the same number typed another way
        ("13912345678", False),  # Jiangsu: inside the area
        ("15921234567", False),  # Shanghai
        ("17012345678", False),  # a virtual operator's block names no province: not "outside"
        ("+14155552671", False),  # abroad: no province either
        (None, False),  # no number
    ],
)
def test_only_a_known_province_outside_the_area_counts(loaded, phone: str | None, hit: bool) -> None:  # type: ignore[no-untyped-def]
    evaluation = loaded.evaluate(_signup(phone), {})
    assert ([r.rule for r in evaluation.reasons] == ["far_number"]) is hit


def test_a_pack_reading_it_without_a_service_area_or_learning_is_told_where() -> None:
    pack = PACK.replace("service_area: [上海, 江苏, 浙江]", "service_area_learned: false")
    ruleset, diagnostics = compile_files({"p.yaml": pack})
    assert ruleset is None
    assert [d.render() for d in diagnostics] == [
        "p.yaml:6:9 MISSING_FIELD 'phone.outside_area' compares the number's province with the merchant's:"
        " declare pack.service_area"
    ]


def test_a_pack_that_never_reads_it_never_computes_it() -> None:
    ruleset = prepare({"p.yaml": PACK.replace("when: phone.outside_area", "when: phone.segment == '135'")}, "python")
    try:
        assert ruleset.ruleset.service_area is None
        facts = ruleset.fact_builder.build(_signup("13501234567"), {})
        assert "phone.outside_area" not in facts and facts["phone.segment"] == "135"
    finally:
        ruleset.matcher.close()


def _paid(customer: str) -> Event:
    return Event(event_id=f"p-{customer}", type="order_paid", customer=customer, amount=99, timestamp=datetime.now(UTC))


def test_a_pack_without_a_service_area_learns_it_from_its_payers() -> None:
    """A merchant who never set its area: nothing is "outside" until its payers say where home is."""
    from engine.area.payers import PayerAreas

    ruleset = prepare({"p.yaml": PACK.replace(", service_area: [上海, 江苏, 浙江]", "")}, "python")
    try:
        areas = PayerAreas()
        assert not ruleset.evaluate(_signup("13501234567"), {}, areas.snapshot()).reasons  # no area known yet
        for i in range(25):  # 25 parents from Beijing (block 135 0123) pay
            areas.observe(Event(event_id=f"s{i}", type="signup", customer=f"m{i}", phone=f"1350123{i:04d}",
                                timestamp=datetime.now(UTC)))  # fmt: skip
            areas.observe(_paid(f"m{i}"))
        counts = areas.snapshot()
        assert not ruleset.evaluate(_signup("13501234567"), {}, counts).reasons  # Beijing is home now
        assert [r.rule for r in ruleset.evaluate(_signup("13912345678"), {}, counts).reasons] == ["far_number"]
    finally:
        ruleset.matcher.close()


def test_the_declared_area_is_widened_by_payers_unless_learning_is_off() -> None:
    from engine.area.payers import TOTAL

    counts = {"北京": 30, TOTAL: 30}  # the studio moved to Beijing; the pack still says 上海, 江苏, 浙江
    on = prepare({"p.yaml": PACK}, "python")
    off = prepare({"p.yaml": PACK.replace("service_area: [", "service_area_learned: false, service_area: [")}, "python")
    try:
        assert not on.evaluate(_signup("13501234567"), {}, counts).reasons
        assert not on.evaluate(_signup("13912345678"), {}, counts).reasons  # declared stays inside
        assert [r.rule for r in off.evaluate(_signup("13501234567"), {}, counts).reasons] == ["far_number"]
    finally:
        on.matcher.close()
        off.matcher.close()
