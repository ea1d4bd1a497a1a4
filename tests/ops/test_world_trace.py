"""``python -m ops.worlds.trace``: the replay with every labelled event's reasons kept, and its summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.compile.pack import compile_files
from ops.worlds.trace import decided, main, rows, show, what_if
from tests.engine.test_replay_families import DEVICE_FARM, PACK, world


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "events.jsonl"
    with log.open("w", encoding="utf-8") as out:
        for record in world().records:
            line = json.loads(record.event.model_dump_json(exclude_none=True))
            out.write(json.dumps({**line, "family": record.family, "truth": record.truth}) + "\n")
    return log


def test_the_trace_keeps_each_events_rules_and_matches_the_replay_report(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "pack.yaml").write_text(PACK % {"rules": DEVICE_FARM}, encoding="utf-8")
    trace, report = tmp_path / "t.jsonl.gz", tmp_path / "report.json"
    args = [str(_log(tmp_path)), "--rules", str(tmp_path / "rules"), "--out", str(trace), "--json", str(report)]
    assert main(args) == 0
    lines = list(rows(str(trace)))
    assert len(lines) == 33  # every labelled scored event; the paid order is an outcome
    farm = [r for r in lines if r["family"] == "device_farm"]
    assert [r["decision"] for r in farm] == ["allow"] * 4 + ["deny"] * 4  # the 5th account on the rack and later
    assert farm[-1]["rules"] == {"device_farm": 70} and farm[-1]["values"]["device.accounts_24h"] == 8
    assert "values" not in farm[0]  # no rule fired: no values kept
    assert all(decided(r, "device_farm") for r in farm[4:])
    families = json.loads(report.read_text("utf-8"))["new"]["families"]
    for family, row in families["attack"].items():
        assert row["not_allowed"] == sum(r["decision"] != "allow" for r in lines if r["family"] == family)
    assert families["honest"]["family_tablet"]["not_allowed"] == 2

    text = show(str(trace), ["family_tablet"])
    assert text.splitlines()[0] == "family_tablet: 2 of 6 not allowed"
    assert "device_farm (hits/decided): device_farm 4/4, family_tablet 2/2" in text

    ruleset, _ = compile_files({"pack.yaml": PACK % {"rules": DEVICE_FARM}})
    assert ruleset is not None
    text = what_if(str(trace), ruleset, [("device_farm", "device.accounts_24h <= 6")])
    assert text.splitlines() == [
        "decisions recomputed differently from the trace: 0",
        "  device_farm (attack, not allowed after the third): 0.800 -> 0.400  (no longer caught)",  # 7th, 8th only
        "  family_tablet (honest, not allowed): 0.333 -> 0.000",
    ]
