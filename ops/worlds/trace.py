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
from engine.events import Event
from engine.progress import count_lines, tracked
from engine.replay.judge import Judge, PackSource
from engine.replay.log import HONEST, Record, read_log
from engine.replay.runner import Replayer
from engine.replay.sandbox import sandbox


class TracingJudge(Judge):
    """The replay judge, writing each labelled scored event's evaluation to ``out``."""

    def __init__(self, packs: list[Any], out: IO[str]) -> None:
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
    return row["decision"] != "allow" and row["score"] - row["rules"].get(rule, 0) < review_at


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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.worlds.trace")
    parser.add_argument("log", nargs="?")
    parser.add_argument("--rules", default="rules")
    parser.add_argument("--out")
    parser.add_argument("--json", help="also write the replay report (as yutang replay --json) here")
    parser.add_argument("--show", help="a trace to summarise instead of replaying")
    parser.add_argument("--family", action="append", default=[])
    args = parser.parse_args(argv)
    if args.show:
        print(show(args.show, args.family))
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
