"""The replay report as a plain-text table; the JSON form is the summary dict itself.

The table is rendered from the same dict ``--json`` prints, so the two never disagree.
"""

from __future__ import annotations

from typing import Any

from engine.replay.family_report import render_families
from engine.replay.render_table import num, pct, table

CHANGES_SHOWN = 25


def render(summary: dict[str, Any]) -> str:
    lines: list[str] = []
    rate = summary.get("events_per_second")
    lines.append(
        f"replay {summary.get('source') or ''}: {summary['events']:,} events "
        f"({summary['scored']:,} scored, {summary['outcomes']:,} outcomes) in {summary['seconds']:.1f} s"
        + (f", {rate:,} events/s" if rate else "")
    )
    packs = [("new", summary["new"])] + ([("baseline", summary["baseline"])] if "baseline" in summary else [])
    for label, pack in packs:
        lines.append(f"  {label}: {pack['name']} version {pack['version']}")
    lines += ["", "decisions"]
    lines += table(["", "allow", "review", "deny"], [[label, *_mix(p["decisions"])] for label, p in packs])
    new = summary["new"]
    lines += ["", "decisions by event type (new)"]
    lines += table(["type", "allow", "review", "deny"], [[t, *_mix(m)] for t, m in new["decisions_by_type"].items()])
    lines += _rules(new)
    lines += _offers(new)
    if "truth" in new:
        lines += _truth(new["truth"])
    if "families" in new:
        lines += render_families(new["families"], cut=summary.get("attacker_rewards_cut"))
    if "families" in summary.get("baseline", {}):
        lines += render_families(summary["baseline"]["families"], label="baseline")
    if "honest_offers" in summary:
        lines += _honest(summary["honest_offers"])
    if "diff" in summary:
        lines += _diff(summary["diff"])
    return "\n".join(lines)


def _mix(decisions: dict[str, int]) -> list[str]:
    total = sum(decisions.values()) or 1
    return [f"{decisions.get(d, 0):,} ({100 * decisions.get(d, 0) / total:.1f}%)" for d in ("allow", "review", "deny")]


def _rules(pack: dict[str, Any]) -> list[str]:
    labelled = "truth" in pack
    header = ["rule", "mode", "hits"] + (["abusive", "honest", "precision", "recall"] if labelled else [])
    lines: list[str] = []
    for mode in ("active", "shadow"):
        rows = [r for r in pack["rules"] if r["mode"] == mode]
        rows.sort(key=lambda r: -r["hits"])
        lines += ["", f"rule hits ({mode})"]
        lines += table(
            header,
            [
                [r["rule"], r["mode"] + (" (lowers risk)" if r.get("lowers_risk") else ""), f"{r['hits']:,}"]
                + (
                    [f"{r['abusive_hits']:,}", f"{r['honest_hits']:,}", num(r["precision"]), num(r["recall"])]
                    if labelled
                    else []
                )
                for r in rows
            ],
        )
    lines.append(f"events a shadow rule would have decided differently: {pack['shadow_would_change']:,}")
    return lines


def _offers(pack: dict[str, Any]) -> list[str]:
    lines = ["", "offers (budgets applied in log order; held rewards live on in log time: released, voided, expired)"]
    lines += table(
        ["offer", "effect", "value", "eligible", "granted", "held", "released", "voided", "expired", "pending",
         "clawed back", "recovered", "kept", "out of budget", "value kept"],
        [
            [o["offer"], o["effect"], num(o["value"]), f"{o['eligible']:,}", f"{o['granted']:,}", f"{o['held']:,}",
             f"{o['released']:,}", f"{o['voided']:,}", f"{o['expired']:,}", f"{o['pending']:,}",
             f"{o['clawed_back']:,}", f"{o['recovered']:,}", f"{o['kept']:,}", f"{o['out_of_budget']:,}",
             f"{o['kept_value']:,.2f}"]
            for o in pack["offers"]
        ],
    )  # fmt: skip
    lines.append(f"cash cost kept ({', '.join(pack['cash_effects'])}): {pack['cash_cost']:,.2f} yuan")
    return lines


def _truth(truth: dict[str, Any]) -> list[str]:
    overall = truth["overall"]
    lines = ["", "ground truth (flagged = review or deny)"]
    rows = [
        [
            "overall",
            f"{overall['abusive_events']:,}",
            f"{overall['flagged_abusive']:,}",
            num(overall["precision"]),
            num(overall["recall"]),
        ]
    ]
    rows += [
        [kind, f"{k['events']:,}", f"{k['flagged']:,}", num(k["precision"]), num(k["recall"])]
        for kind, k in truth["kinds"].items()
    ]
    lines += table(["abuse", "events", "flagged", "precision", "recall"], rows)
    lines.append(
        f"honest events flagged: {overall['flagged_honest']:,} of {overall['honest_events']:,}  "
        + ", ".join(f"{t} {n:,}" for t, n in truth["honest_flagged_by_type"].items() if n)
    )
    for alarm in truth.get("false_alarm_reasons", [])[:5]:
        lines.append(f"  honest flagged by {' + '.join(alarm['rules']) or '(overrides)'}: {alarm['events']:,}")
    for kind, k in truth["kinds"].items():
        by_type = ", ".join(f"{t} {num(r)}" for t, r in k["recall_by_type"].items())
        top = ", ".join(f"{r['rule']} {r['hits']:,}" for r in k["top_rules"])
        lines.append(f"  {kind}: recall by type: {by_type}; top rules: {top}")
    return lines


def _honest(honest: dict[str, Any]) -> list[str]:
    line = (
        f"honest customers: {honest['customers']:,}; an offer withheld by risk: {honest['withheld_by_risk']:,} "
        f"({pct(honest['withheld_share'])})"
    )
    if "changed_vs_baseline" in honest:
        line += (
            f"; offers changed vs baseline: {honest['changed_vs_baseline']:,} ({pct(honest['changed_share'])}),"
            f" withheld under the baseline: {honest['withheld_by_risk_baseline']:,}"
        )
    return ["", line]


def _diff(diff: dict[str, Any]) -> list[str]:
    moves = ", ".join(f"{k} {v:,}" for k, v in diff["moves"].items()) or "none"
    lines = [
        "",
        f"decisions changed vs baseline: {diff['changed_decisions']:,} ({moves}); "
        f"events with other offers: {diff['events_with_other_offers']:,}",
    ]
    shown = diff["changes"][:CHANGES_SHOWN]
    lines += table(
        ["event", "type", "customer", "truth", "baseline", "new", "rules added", "rules removed"],
        [
            [
                c["event_id"],
                c["type"],
                c["customer"],
                c["truth"] or "-",
                f"{c['baseline']['decision']} {c['baseline']['score']}",
                f"{c['new']['decision']} {c['new']['score']}",
                " ".join(sorted(set(c["new"]["rules"]) - set(c["baseline"]["rules"]))) or "-",
                " ".join(sorted(set(c["baseline"]["rules"]) - set(c["new"]["rules"]))) or "-",
            ]
            for c in shown
        ],
    )
    if len(diff["changes"]) > len(shown):
        lines.append(f"... {len(diff['changes']) - len(shown):,} more (all of them with --json)")
    return lines
