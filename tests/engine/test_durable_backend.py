"""The durable_rules backend under the conditions that break a naive use of durable_rules."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import durable_rules_engine as dre
import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.backends import BackendKind
from engine.backends import durable as durable_module
from engine.backends.durable import SESSION, DurableMatcher
from engine.backends.durable_facts import encode_value, generate_encoder
from engine.backends.durable_network import DurableLimits
from engine.backends.python_codegen import PythonMatcher
from engine.compile.pack import compile_files
from engine.diagnostics import Code
from engine.errors import EvaluationError, RuleLoadError
from engine.expr.tree import And, Call, Compare, Const, In, ListValue, Name, Node, Not, Or, Type
from engine.model import Predicate
from engine.pack.loader import read_pack_files
from engine.rule_engine import backend_checks, prepare
from tests.engine.condition_trees import ruleset_with

A = Name("n.a", Type.NUMBER)
B = Name("n.b", Type.NUMBER)
SHIPPED = Path(__file__).resolve().parents[2] / "rules"


def num(value: float) -> Const:
    return Const(value, Type.NUMBER)


def preds(*conditions: Node) -> tuple[Predicate, ...]:
    return tuple(Predicate(f"rule:r{i}", frozenset(), c) for i, c in enumerate(conditions))


@pytest.fixture
def matcher_for():  # type: ignore[no-untyped-def]
    made: list[DurableMatcher] = []

    def build(predicates: tuple[Predicate, ...], **kwargs: Any) -> DurableMatcher:
        made.append(DurableMatcher(ruleset_with(predicates), **kwargs))
        return made[-1]

    yield build
    for matcher in made:
        matcher.close()


def test_every_one_of_150_rules_matching_one_event_fires(matcher_for) -> None:  # type: ignore[no-untyped-def]
    predicates = preds(*(Compare(">", A, num(i)) for i in range(150)))
    matched = matcher_for(predicates).match("signup", {"n.a": 1000})
    assert matched == [p.key for p in predicates]  # all of them, in declaration order


def test_negative_only_conditions_do_not_match_durables_state_fact(matcher_for) -> None:  # type: ignore[no-untyped-def]
    predicates = preds(
        Not(Call("exists", (A,), Type.BOOL)),
        In(A, ListValue(frozenset({1, 2}), None), negated=True),
        Not(Name("b.a", Type.BOOL)),
        Not(Compare(">", A, num(5))),
    )
    matcher = matcher_for(predicates)
    reference = PythonMatcher(ruleset_with(predicates))
    for facts in ({"n.a": 1, "b.a": True}, {"n.a": 7, "b.a": True}, {}, {"n.a": 3}):
        assert matcher.match("signup", facts) == reference.match("signup", facts), facts
    assert matcher.match("signup", {"n.a": 7, "b.a": True}) == ["rule:r1"]


def test_missing_values_follow_the_documented_semantics(matcher_for) -> None:  # type: ignore[no-untyped-def]
    ratio = Compare("<", Call("coalesce", (A, num(0)), Type.NUMBER), num(1))
    divide = Compare(">", A, num(0))
    predicates = preds(Not(Compare(">", A, B)), Or((ratio, divide)), And((Not(Compare("==", A, num(1))), divide)))
    matcher = matcher_for(predicates)
    assert matcher.match("order", {}) == ["rule:r0", "rule:r1"]  # not(x > y) holds when x is missing
    assert matcher.match("order", {"n.a": 1, "n.b": 0}) == ["rule:r1"]


def test_numbers_durable_cannot_parse_are_compared_exactly(matcher_for) -> None:  # type: ignore[no-untyped-def]
    predicates = preds(Compare("<", A, num(0.0001)), Compare(">", A, num(9e15)), Compare("==", A, num(2**53)))
    matcher = matcher_for(predicates)
    assert matcher.match("order", {"n.a": 1e-05}) == ["rule:r0"]
    assert matcher.match("order", {"n.a": 2**60}) == ["rule:r1"]
    assert matcher.match("order", {"n.a": 2**53}) == ["rule:r1", "rule:r2"]
    assert matcher.match("order", {"n.a": float("inf")}) == ["rule:r1"]


def test_an_evaluation_that_fails_inside_durable_leaves_the_matcher_usable(matcher_for) -> None:  # type: ignore[no-untyped-def]
    predicates = preds(*(Compare(">", A, num(i)) for i in range(100)))
    unsafe = matcher_for(predicates, limits=DurableLimits(max_rules=500, max_stack=1000, max_shard_terms=1000))
    with pytest.raises(EvaluationError, match="303"):
        unsafe.match("signup", {"n.a": 1000})  # 100 simultaneous matches in one ruleset
    assert unsafe.match("signup", {"n.a": 3}) == ["rule:r0", "rule:r1", "rule:r2"]
    handle = unsafe._handles[0]
    assert dre.get_facts(handle, SESSION) == "[]"  # the failed fact was retracted


def test_a_ruleset_durable_refuses_to_create_is_a_load_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    real = dre.create_ruleset
    created: list[int] = []

    def flaky(name: str, definition: str) -> int:
        if len(created) == 2:
            raise dre.error("Could not create ruleset, error code: 108")
        created.append(real(name, definition))
        return created[-1]

    monkeypatch.setattr(durable_module.dre, "create_ruleset", flaky)
    with pytest.raises(RuleLoadError) as raised:
        DurableMatcher(ruleset_with(preds(Compare(">", A, num(1)))))
    assert raised.value.diagnostics[0].code is Code.LIMIT_EXCEEDED
    assert "could not create ruleset" in raised.value.diagnostics[0].message
    for handle in created:  # the rulesets made before the failure are gone
        with pytest.raises(dre.error):
            dre.get_facts(handle, SESSION)


def test_a_condition_too_large_for_durable_is_a_diagnostic(matcher_for) -> None:  # type: ignore[no-untyped-def]
    clauses = " and ".join(f"(event.amount > {i} or event.hour < {i})" for i in range(8))
    text = f"""
pack: {{name: t, timezone: Asia/Shanghai}}
tiers: [{{id: everyone, default: true}}]
decision: {{review_at: 40, deny_at: 70}}
rules:
  - id: explosive
    code: 1
    on: [order]
    when: "{clauses}"
    score: 10
    reason: {{zh: 太复杂, en: too complex}}
"""
    ruleset, diagnostics = compile_files({"x.yaml": text}, checks=backend_checks(BackendKind.DURABLE))
    assert ruleset is None
    rendered = [d.render() for d in diagnostics]
    assert any(r.startswith("x.yaml:6:") and "LIMIT_EXCEEDED durable_rules: rule:explosive" in r for r in rendered), (
        rendered
    )
    python_ruleset, _ = compile_files({"x.yaml": text}, checks=backend_checks(BackendKind.PYTHON))
    assert python_ruleset is not None
    with pytest.raises(RuleLoadError):  # built without the guard: refused, never a crash
        DurableMatcher(python_ruleset)


def test_reloading_200_times_neither_leaks_nor_crashes() -> None:
    predicates = preds(*(Compare(">", A, num(i)) for i in range(60)), Not(Call("exists", (B,), Type.BOOL)))
    process = psutil.Process()
    current = DurableMatcher(ruleset_with(predicates, version="v0"))
    for version in range(1, 221):
        if version == 20:
            baseline = process.memory_info().rss
        loaded = DurableMatcher(ruleset_with(predicates, version=f"v{version}"))  # both live for a moment
        assert len(loaded.match("referral", {"n.a": 30})) == 31
        current.close()
        current = loaded
    current.close()
    growth_mb = (process.memory_info().rss - baseline) / 2**20
    assert growth_mb < 8, f"RSS grew {growth_mb:.1f} MB over 200 reloads"


def test_a_closed_matcher_refuses_to_evaluate(matcher_for) -> None:  # type: ignore[no-untyped-def]
    matcher = matcher_for(preds(Compare(">", A, num(1))))
    matcher.close()
    matcher.close()
    with pytest.raises(EvaluationError, match="closed"):
        matcher.match("order", {"n.a": 5})


def test_threads_sharing_one_matcher_get_their_own_answers(matcher_for) -> None:  # type: ignore[no-untyped-def]
    predicates = preds(*(Compare(">=", A, num(i)) for i in range(40)))
    matcher = matcher_for(predicates)
    wrong: list[tuple[int, list[str]]] = []

    def work(offset: int) -> None:
        for i in range(300):
            value = (i + offset) % 40
            got = matcher.match("coupon_claim", {"n.a": value})
            if got != [f"rule:r{k}" for k in range(value + 1)]:
                wrong.append((value, got))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.skipif(not (SHIPPED / "pack.yaml").exists(), reason="the shipped pack is not there")
def test_both_backends_agree_on_every_event_of_the_shipped_packs_cases() -> None:
    durable = prepare(read_pack_files(SHIPPED), BackendKind.DURABLE)
    python = PythonMatcher(durable.ruleset)
    from engine.compile.cases import step_event
    from engine.facts import build_facts

    ruleset = durable.ruleset
    checked = 0
    try:
        for case_index, case in enumerate(ruleset.tests):
            for step_index, step in enumerate(case.steps):
                event = step_event(step.event, case_index, step_index)
                if event.type not in python._by_type:
                    continue
                facts = build_facts(
                    event,
                    step.features,
                    feature_specs=ruleset.features,
                    attributes=ruleset.attributes,
                    zone=durable.evaluator.zone,
                )
                assert durable.matcher.match(event.type, facts) == python.match(event.type, facts), case.name
                checked += 1
    finally:
        durable.matcher.close()
    assert checked > 30


def test_durable_is_the_default_backend() -> None:
    from engine import cli

    if "YUTANG_BACKEND" not in os.environ:
        assert BackendKind.DURABLE.value == cli.DEFAULT_BACKEND


@settings(max_examples=300, deadline=None)
@given(
    number=st.one_of(
        st.sampled_from([0, -0.0, 1e-4, -1e-4, 9.99e-5, 2**53, -(2**53), 2**53 + 1, 2.0**53, 1e16, float("inf")]),
        st.integers(-(2**60), 2**60),
        st.floats(allow_nan=False),
    ),
    flag=st.booleans(),
)
def test_the_fact_encoder_writes_numbers_and_flags_as_encode_value_does(number: float, flag: bool) -> None:
    encode, _ = generate_encoder(("t_", "order"), [("n.a", "v0", Type.NUMBER), ("b.a", "v1", Type.BOOL)], [])
    written = encode({"n.a": number, "b.a": flag})
    assert written == f'"t_":"order","v0":{encode_value(number)},"v1":{encode_value(flag)}}}'
