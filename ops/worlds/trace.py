"""``python -m ops.worlds.trace LOG --rules rules --out TRACE.jsonl.gz [--json REPORT]``: replay, keep every reason.

``yutang replay --json`` counts; this keeps the detail behind the counts, to find which rules
hurt an honest look-alike and what the same rules catch. One JSON line per labelled scored
event: id, type, customer, family, truth, decision, score, the active and shadow rules that
fired with their scores, and (when any rule fired) the event's feature values, so a changed
condition can be tried on the trace before a full replay. The replay is the ordinary one
(:func:`engine.replay.runner.replay`'s steps, evaluation in this process), so the decisions are
those ``yutang replay`` reports.

``python -m ops.worlds.trace --show TRACE.jsonl.gz [--family F ...]`` prints per honest family
the rules behind its events that were not allowed, and per rule its hits by family, with how
many not-allowed events it decided (without it the event would have been allowed).

``python -m ops.worlds.trace --what-if TRACE.jsonl.gz --rules rules --unless RULE 'CONDITION' ...``
tries an exclusion before a replay: RULE no longer fires where CONDITION (the pack's condition
language, over the event's feature values and ``event.type``) holds, each event's decision is
recomputed from the rules left (scores, overrides, the pack's thresholds), and per family the
shares that change are printed. It is a first reading, not a replay: other event fields and
derived facts (``phone.outside_area``...) are not in the trace, so a condition naming them reads
them as missing, and what a changed decision does later (lists, late evidence, held rewards) is
not followed. On the six tuning logs of session 13 it recomputed every recorded decision exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from engine.backends import BackendKind
from engine.compile.features import feature_type
from engine.compile.names import EVENT_FIELDS
from engine.compile.pack import compile_files
from engine.evaluation import combine
from engine.events import Event
from engine.expr.checker import Scope, check_condition
from engine.expr.explain import value
from engine.model import CompiledRuleSet, Decision, DecisionPolicy, Rule
from engine.pack.loader import read_pack_files
from engine.progress import count_lines, tracked
from engine.replay.families import GRACE_EVENTS
from engine.replay.judge import Judge, PackSource
from engine.replay.log import HONEST, Record, read_log
from engine.replay.runner import Replayer
from engine.replay.sandbox import sandbox
from engine.rule_engine import LoadedRuleSet


class TracingJudge(Judge):
    """The replay judge, writing each labelled scored event's evaluation to ``out``."""

    def __init__(self, packs: list[LoadedRuleSet], out: IO[str]) -> None:
        super().__init__(packs)
        self.out = out

    def score(self, event: Event, truth: str | None, values: Mapping[str, Any], family: str | None = None) -> None:
        """Judge.score for one rule set, keeping the evaluation for the trace."""
        own = self.plan.values_for(0, event.type, values)
        evaluation = self.packs[0].evaluate(event, own, self._area)
        granted = self.tallies[0].add(event, truth, evaluation, family)
        if granted and self.notes_grants:
            self._note(event, granted, self.tallies[0].offers.offers)
        self.scored += 1
        if truth is None:
            return
        row: dict[str, Any] = {
            "id": event.event_id,
            "type": event.type,
            "customer": event.customer,
            "family": family or truth,
            "truth": truth,
            "decision": evaluation.decision.value,
            "score": evaluation.score,
            "rules": {r.rule: r.score for r in evaluation.reasons},
            "shadow": [r.rule for r in evaluation.shadow],
        }
        if evaluation.reasons or evaluation.shadow:
            row["values"] = own
        self.out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


async def _run(records: Iterable[Record], source: PackSource, out: IO[str]) -> dict[str, Any]:
    """Replay ``records`` writing the trace; return the summary ``yutang replay --json`` prints."""
    judge = TracingJudge([source.load()], out)
    try:
        async with sandbox() as box:
            seeds = [entry for ruleset in judge.plan.rulesets for entry in ruleset.seed_lists]
            replayer = Replayer(box, judge, seeds)
            await replayer.seed_lists()
            run = await replayer.feed(records)
        run.judged = judge.summary()
        return run.summary()
    finally:
        judge.close()


def rows(path: str) -> Iterator[dict[str, Any]]:
    """The trace's lines, in log order."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def decided(row: dict[str, Any], rule: str, review_at: int = 40) -> bool:
    """Whether ``rule`` alone kept the event from being allowed (score without it under review)."""
    return bool(row["decision"] != "allow" and row["score"] - row["rules"].get(rule, 0) < review_at)


def show(path: str, families: list[str]) -> str:
    """Per honest family the rule sets behind its non-allowed events; per rule its hits and decided events."""
    alarms: defaultdict[str, Counter[tuple[str, ...]]] = defaultdict(Counter)
    events: Counter[str] = Counter()
    hits: defaultdict[str, Counter[str]] = defaultdict(Counter)
    sole: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for row in rows(path):
        family = row["family"]
        events[family] += 1
        for rule in row["rules"]:
            hits[rule][family] += 1
            sole[rule][family] += decided(row, rule)
        if row["truth"] == HONEST and row["decision"] != "allow" and (not families or family in families):
            alarms[family][tuple(sorted(r for r, s in row["rules"].items() if s > 0))] += 1
    lines = []
    for family, combos in sorted(alarms.items()):
        lines.append(f"{family}: {sum(combos.values())} of {events[family]} not allowed")
        lines += [f"  {n:5}  {' + '.join(rules) or '(overrides)'}" for rules, n in combos.most_common(8)]
    lines.append("")
    honest_rules = {r for combos in alarms.values() for rules in combos for r in rules}
    for rule in sorted(honest_rules):
        cells = ", ".join(f"{f} {n}/{sole[rule][f]}" for f, n in hits[rule].most_common())
        lines.append(f"{rule} (hits/decided): {cells}")
    return "\n".join(lines)


def what_if(path: str, ruleset: CompiledRuleSet, unless: list[tuple[str, str]]) -> str:
    """Per family, the not-allowed share (attacks: after their third) without each rule where its condition holds."""
    scope = Scope(
        names={**EVENT_FIELDS, **{n: feature_type(spec) for n, spec in ruleset.features.items()}},
        lists={},
    )
    conditions = []
    for rule, text in unless:
        tree, problems = check_condition(text, scope)
        if tree is None:
            raise ValueError(f"--unless {rule}: " + "; ".join(p.message for p in problems))
        conditions.append((rule, tree))
    by_id = {r.id: r for r in ruleset.rules}
    events: Counter[str] = Counter()
    truth: dict[str, str] = {}
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    mismatches = 0
    for row in rows(path):
        family = row["family"]
        truth[family] = row["truth"]
        events[family] += 1
        rules = dict(row["rules"])
        mismatches += _decide(rules, by_id, ruleset.decision) is not Decision(row["decision"])
        facts = {**row.get("values", {}), "event.type": row["type"]}
        for rule, tree in conditions:
            if rule in rules and value(tree, facts) is True:
                del rules[rule]
        judged = truth[family] == HONEST or events[family] > GRACE_EVENTS
        before[family] += judged and row["decision"] != "allow"
        after[family] += judged and _decide(rules, by_id, ruleset.decision) is not Decision.ALLOW
    lines = [f"decisions recomputed differently from the trace: {mismatches}"]
    for family in sorted(events):
        whole = events[family] if truth[family] == HONEST else max(events[family] - GRACE_EVENTS, 1)
        old, new = before[family] / whole, after[family] / whole
        kind = "honest, not allowed" if truth[family] == HONEST else "attack, not allowed after the third"
        if old != new:
            lost = "  (no longer caught)" if old >= 0.5 > new and truth[family] != HONEST else ""
            lines.append(f"  {family} ({kind}): {old:.3f} -> {new:.3f}{lost}")
    return "\n".join(lines)


def _decide(rules: dict[str, int], by_id: dict[str, Rule], policy: DecisionPolicy) -> Decision:
    """The decision of the rules that fired (id -> score), as the evaluator makes it."""
    return combine(max(0, min(100, sum(rules.values()))), [by_id[r] for r in rules], policy)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.worlds.trace")
    parser.add_argument("log", nargs="?")
    parser.add_argument("--rules", default="rules")
    parser.add_argument("--out")
    parser.add_argument("--json", help="also write the replay report (as yutang replay --json) here")
    parser.add_argument("--show", help="a trace to summarise instead of replaying")
    parser.add_argument("--family", action="append", default=[])
    parser.add_argument("--what-if", help="a trace to try exclusions on (with --rules, --unless)")
    parser.add_argument("--unless", nargs=2, action="append", default=[], metavar=("RULE", "CONDITION"))
    args = parser.parse_args(argv)
    if args.show:
        print(show(args.show, args.family))
        return 0
    if args.what_if:
        ruleset, diagnostics = compile_files(read_pack_files(args.rules))
        if ruleset is None:
            print("\n".join(str(d) for d in diagnostics), file=sys.stderr)
            return 1
        print(what_if(args.what_if, ruleset, [tuple(u) for u in args.unless]))
        return 0
    if not (args.log and args.out):
        parser.error("LOG and --out are needed to replay")
    source = PackSource.read(args.rules, BackendKind.PYTHON)
    records = tracked(read_log(args.log), label="trace", total=count_lines(args.log))
    with gzip.open(args.out, "wt", encoding="utf-8") as out:
        summary = asyncio.run(_run(records, source, out))
    if args.json:
        summary["source"], summary["backend"] = args.log, BackendKind.PYTHON.value
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, ensure_ascii=False, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
