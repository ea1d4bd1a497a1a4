"""How a compiled rule set is laid out in durable_rules, decided once at compile time.

The same plan serves the compiler's guard (``durable_limits``: what would break
durable becomes a diagnostic) and the matcher (``durable``: the rulesets to create
and the fact encoder per event type), so the two can never disagree.

Layout: one group of rulesets per scored event type, holding the predicates whose
``on:`` includes it. Every durable rule starts with the positive guard
``t_ == <event type>``: it implements ``on:`` and keeps negative-only conditions
from matching durable's hidden state fact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.backends.durable_facts import encode_value
from engine.backends.durable_network import DurableLimits, pack, shape_of
from engine.backends.durable_translate import Atom, Fields, Projection, Term, TooComplex, Translator
from engine.events import SCORED_TYPES
from engine.expr.tree import Type
from engine.model import Predicate

GUARD_FIELD = "t_"
#: A rule only the priming fact matches. durable-rules 2.0.28 can segfault in
#: ``delete_state`` when the session state was created by a fact that matched
#: nothing; the matcher first asserts ``PRIMING_FACT`` so that it never is.
SENTINEL_RULE = "s_"
SENTINEL_TERM: Term = (("z_", "$eq", 1),)


@dataclass(frozen=True, slots=True)
class Problem:
    predicate: int  # index into the predicates
    message: str


@dataclass
class TypeGroup:
    """The rulesets and fact fields of one event type."""

    event_type: str
    shards: list[list[int]] = field(default_factory=list)
    natives: list[tuple[str, str, Type]] = field(default_factory=list)  # path, field id, type
    projections: list[Projection] = field(default_factory=list)

    @property
    def guard(self) -> tuple[str, str]:
        return (GUARD_FIELD, self.event_type)


@dataclass
class Plan:
    terms: list[list[Term]]  # per predicate; [] = never true
    groups: dict[str, TypeGroup]
    problems: list[Problem]

    def ruleset_json(self, group: TypeGroup, shard: Sequence[int]) -> str:
        """The durable ruleset definition: one rule per term, named ``p<index>[_<term>]``."""
        rules = [f'"{SENTINEL_RULE}":{{"all":[{{"m":{_atom(SENTINEL_TERM[0])}}}]}}']
        for index in shard:
            for number, term in enumerate(self.terms[index]):
                name = rule_name(index, number)
                rules.append(f'"{name}":{{"all":[{{"m":{_condition(group.guard, term)}}}]}}')
        return "{" + ",".join(rules) + "}"


def rule_name(index: int, number: int) -> str:
    return f"p{index}" if number == 0 else f"p{index}_{number}"


def build_plan(predicates: Sequence[Predicate], limits: DurableLimits) -> Plan:
    fields = Fields()
    translator = Translator(fields, max_terms=limits.max_terms, max_in_values=limits.max_in_values)
    terms: list[list[Term]] = []
    problems: list[Problem] = []
    for index, predicate in enumerate(predicates):
        try:
            found = translator.terms(predicate.condition)
        except TooComplex as err:
            problems.append(
                Problem(
                    index,
                    f"condition expands to {err.terms}+ alternatives after and/or/not are distributed;"
                    f" the limit is {limits.max_terms}: simplify it or split the rule",
                )
            )
            found = []
        problem = _alone(found, limits)
        if problem:
            problems.append(Problem(index, problem))
            found = []
        terms.append(found)
    groups = {t: _group(t, predicates, terms, fields, limits, problems) for t in sorted(SCORED_TYPES)}
    return Plan(terms, groups, problems)


def _alone(terms: list[Term], limits: DurableLimits) -> str:
    shape = shape_of([[SENTINEL_TERM], _guarded(("t_", "x"), terms)])
    if shape.stack > limits.max_stack:
        return (
            f"condition can leave {shape.stack} tests matching at once; the limit is {limits.max_stack}"
            " (error 303 above 64): split the rule"
        )
    if shape.children > limits.max_children:
        return (
            f"condition puts {shape.children} tests side by side; the limit is {limits.max_children}"
            " (durable hangs at 512): use a named list"
        )
    if len(terms) > limits.max_shard_terms:
        return f"condition has {len(terms)} alternatives; the limit is {limits.max_shard_terms}"
    return ""


def _group(
    event_type: str,
    predicates: Sequence[Predicate],
    terms: list[list[Term]],
    fields: Fields,
    limits: DurableLimits,
    problems: list[Problem],
) -> TypeGroup:
    group = TypeGroup(event_type)
    guard = group.guard
    used: dict[str, None] = {}
    chosen: list[tuple[int, list[Term]]] = []
    for index, predicate in enumerate(predicates):
        if not terms[index] or (predicate.on and event_type not in predicate.on):
            continue
        read = {atom[0] for term in terms[index] for atom in term}
        if len(used.keys() | read) > limits.max_fields:
            problems.append(
                Problem(
                    index,
                    f"'{event_type}' events would carry more than {limits.max_fields} fact fields (durable takes 254)",
                )
            )
            continue
        used.update(dict.fromkeys(sorted(read)))
        chosen.append((index, _guarded(guard, terms[index])))
    group.shards = pack(chosen, limits, base=[SENTINEL_TERM])
    natives = {field_id: path for path, field_id in fields.natives.items()}
    group.natives = [(natives[f], f, fields.types[natives[f]]) for f in used if f in natives]
    group.projections = [p for p in fields.projections.values() if p.field in used]
    return group


def _guarded(guard: tuple[str, str], terms: list[Term]) -> list[Term]:
    head: Atom = (guard[0], "$eq", guard[1])
    return [(head, *term) for term in terms]


def _condition(guard: tuple[str, str], term: Term) -> str:
    tests = [_atom((guard[0], "$eq", guard[1])), *(_atom(a) for a in term)]
    return tests[0] if len(tests) == 1 else '{"$and":[' + ",".join(tests) + "]}"


def _atom(atom: Atom) -> str:
    field_id, op, value = atom
    key = json.dumps(field_id)
    if op == "$eq":
        return f"{{{key}:{encode_value(value)}}}"
    if op in ("$ex", "$nex"):
        return f'{{"{op}":{{{key}:1}}}}'
    return f'{{"{op}":{{{key}:{encode_value(value)}}}}}'


__all__ = ["GUARD_FIELD", "SENTINEL_RULE", "SENTINEL_TERM", "Plan", "Problem", "TypeGroup", "build_plan", "rule_name"]
