"""``python -m ops.worlds.scorecard REPORT.json [...]``: one table per family from replay reports.

Reads what ``yutang replay LOG --json`` wrote for each seed's blind world and prints, per
family, whether an attack was caught (at least half of its events after its third not
allowed, replay's own criterion) with that share, and each honest family's false-positive
share; then per seed the families caught, the precision of non-allow decisions, the honest
events allowed and the rewards attackers kept. The last line is one JSON object.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The figures of one replay report that the blind world is read for."""
    new = report["new"]
    card = new["families"]["scorecard"]
    attack = new["families"]["attack"]
    honest = new["families"]["honest"]
    kept = card["attacker_rewards"]
    return {
        "caught": card["caught"],
        "attack_families": card["attack_families"],
        "missed": card["missed"],
        "precision": card["precision"],
        "honest_allowed": card["honest_allowed"],
        "attacker_kept": {"count": kept["count"], "cash_value": kept["cash_value"], "trials": kept["trials"]},
        "attacker_granted": card["attacker_flow"]["granted"],
        "attacker_pending": card["attacker_flow"]["pending"],
        "attack": {f: {"caught": a["caught"], "after_third": a["not_allowed_after_third"]} for f, a in attack.items()},
        "honest": {f: h["false_positive_rate"] for f, h in honest.items()},
    }


def table(seeds: list[tuple[str, dict[str, Any]]]) -> str:
    names = [n for n, _ in seeds]
    rows = [f"| family | {' | '.join(names)} |", "|---|" + "---:|" * len(names)]
    for family in sorted({f for _, s in seeds for f in s["attack"]}):
        cells = []
        for _, s in seeds:
            a = s["attack"].get(family)
            cells.append("-" if a is None else f"{'**caught**' if a['caught'] else 'missed'} {a['after_third']:.2f}")
        rows.append(f"| {family} | {' | '.join(cells)} |")
    for family in sorted({f for _, s in seeds for f in s["honest"]}):
        fp = [s["honest"].get(family) for _, s in seeds]
        rows.append(f"| {family} (honest, FP) | {' | '.join('-' if v is None else f'{v:.3f}' for v in fp)} |")
    caught = [f"{s['caught']} / {s['attack_families']}" for _, s in seeds]
    rows.append(f"| caught | {' | '.join(caught)} |")
    precision = [f"{s['precision']:.3f}" for _, s in seeds]
    rows.append(f"| precision of non-allow | {' | '.join(precision)} |")
    allowed = [f"{s['honest_allowed']:.3f}" for _, s in seeds]
    rows.append(f"| honest allowed | {' | '.join(allowed)} |")
    kept = [f"{s['attacker_kept']['count']} ({s['attacker_kept']['cash_value']:.0f} yuan)" for _, s in seeds]
    rows.append(f"| rewards attackers kept | {' | '.join(kept)} |")
    granted = [f"{s['attacker_granted']['count']} / {s['attacker_pending']['count']}" for _, s in seeds]
    rows.append(f"| granted to attackers / still held at the end | {' | '.join(granted)} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m ops.worlds.scorecard REPORT.json [REPORT.json ...]", file=sys.stderr)
        return 2
    seeds = [(Path(p).stem, summary(json.loads(Path(p).read_text("utf-8")))) for p in argv]
    print(table(seeds))
    print(json.dumps({name: {k: v for k, v in s.items() if k not in ("attack", "honest")} for name, s in seeds}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
