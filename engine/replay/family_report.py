"""The per-family part of the replay table: attack families caught, honest families hurt, rewards taken.

Rendered from the summary dict (:mod:`engine.replay.families`), like the rest of the table.
"""

from __future__ import annotations

from typing import Any

from engine.replay.render_table import num, pct, table


def render_families(families: dict[str, Any], *, label: str = "new", cut: dict[str, Any] | None = None) -> list[str]:
    """The attack and honest family tables and the scorecard against the targets."""
    lines = ["", f"attack families ({label}; caught = at least half of the events after the third not allowed)"]
    lines += table(
        ["family", "events", "not allowed", "after 3rd", "caught", "rewards kept", "cash kept", "trials kept"],
        [
            [
                family,
                f"{r['events']:,}",
                f"{r['not_allowed']:,}",
                pct(r["not_allowed_after_third"]),
                "yes" if r["caught"] else "NO",
                f"{r['rewards']['count']:,}",
                f"{r['rewards']['cash_value']:,.2f}",
                f"{r['rewards']['trials']:,}",
            ]
            for family, r in families["attack"].items()
        ],
    )
    lines += ["", f"honest families ({label})"]
    lines += table(
        ["family", "events", "not allowed", "false positives"],
        [
            [family, f"{r['events']:,}", f"{r['not_allowed']:,}", pct(r["false_positive_rate"])]
            for family, r in families["honest"].items()
        ],
    )
    lines += _reward_lines(families, label)
    card = families["scorecard"]
    targets = card["targets"]
    caught_target = targets["caught_share"] * card["attack_families"]
    rows = [
        ["attack families caught", f"{card['caught']} of {card['attack_families']}", f">= {caught_target:g}",
         _met(card["caught"] >= caught_target)],
        ["precision of non-allow", num(card["precision"]), f">= {targets['precision']}",
         _met((card["precision"] or 0) >= targets["precision"])],
        ["honest events allowed", pct(card["honest_allowed"]), f">= {pct(targets['honest_allowed'])}",
         _met((card["honest_allowed"] or 0) >= targets["honest_allowed"])],
        [f"worst honest family ({card['worst_honest_family']})", pct(card["worst_honest_false_positive_rate"]),
         f"<= {pct(targets['worst_honest_false_positive_rate'])}",
         _met((card["worst_honest_false_positive_rate"] or 0) <= targets["worst_honest_false_positive_rate"])],
    ]  # fmt: skip
    rewards = card["attacker_rewards"]
    rows.append(["rewards kept by attackers", f"{rewards['count']:,} ({rewards['cash_value']:,.2f} yuan cash)", "", ""])
    if cut is not None:
        target = targets["attacker_rewards_cut"]
        measured = cut["count_cut"]
        rows.append(
            ["  cut vs baseline (count / cash)", f"{pct(measured)} / {pct(cut['cash_value_cut'])}",
             f">= {pct(target)}", _met(measured is not None and measured >= target)]
        )  # fmt: skip
    lines += ["", f"scorecard ({label})"]
    lines += table(["measure", "value", "target", ""], rows)
    if card["missed"]:
        lines.append(f"  missed: {', '.join(card['missed'])}")
    return lines


_FLOW = ("granted", "held", "released", "voided", "expired", "clawed_back", "recovered", "pending", "kept")


def _reward_lines(families: dict[str, Any], label: str) -> list[str]:
    """Each family's rewards through their life (count / cash yuan), and how much later holds let honest ones out."""
    lines = ["", f"rewards ({label}): count / cash value; kept = granted or released, not recovered; "
                 "pending = still held at the end of the log"]  # fmt: skip
    header = ["family", *(m.replace("_", " ") for m in _FLOW), "delay median / p90 (h)"]
    rows = []
    for kind in ("attack", "honest"):
        for family, r in families[kind].items():
            flow, delay = r["rewards"]["flow"], r["rewards"]["hold_delay_hours"]
            cells = [_cell(flow.get(m)) for m in _FLOW]
            rows.append([f"{family}{' (honest)' if kind == 'honest' else ''}", *cells, _delay(delay)])
    card = families["scorecard"]
    for name, flow, delay in (
        ("all attack families", card["attacker_flow"], None),
        ("all honest families", card["honest_rewards"]["flow"], card["honest_rewards"]["hold_delay_hours"]),
    ):
        rows.append([name, *(_cell(flow.get(m)) for m in _FLOW), _delay(delay)])
    return lines + table(header, rows)


def _cell(cell: dict[str, Any] | None) -> str:
    if not cell or not cell["count"]:
        return "-"
    return f"{cell['count']:,} / {cell['value']:,.0f}"


def _delay(delay: dict[str, Any] | None) -> str:
    return "-" if not delay else f"{delay['median']:g} / {delay['p90']:g}"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"
