"""The second blind world (ops/worlds/rongcheng): deterministic bytes, every family present, every event valid.

Held out: these tests check the world is a well-formed log of its stories, never what the
pack makes of it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.events import OUTCOME_TYPES, SCORED_TYPES, Event
from ops.worlds.rongcheng.store import START
from ops.worlds.rongcheng.world import ATTACKS, LOOKALIKES, TAIL_DAYS, build

ROOT = Path(__file__).resolve().parents[2]


def _text(seed: int, events: int) -> str:
    out = io.StringIO()
    build(seed, events)[0].write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def lines() -> list[dict[str, Any]]:
    return [json.loads(line) for line in _text(3, 12000).splitlines()]


def test_a_seed_writes_the_same_bytes_in_any_process_and_another_seed_another_world() -> None:
    here = _text(4, 3000)
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    code = (
        "import io, sys; from ops.worlds.rongcheng.world import build; o = io.StringIO(); "
        "build(4, 3000)[0].write(o); sys.stdout.write(o.getvalue())"
    )
    there = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert here == there
    assert here != _text(5, 3000)


def test_every_event_is_valid_time_ordered_and_labelled(lines: list[dict[str, Any]]) -> None:
    previous = None
    for n, line in enumerate(lines):
        event = dict(line)
        family, truth = event.pop("family"), event.pop("truth")
        assert truth in ("honest", family), (n, family, truth)
        parsed = Event.model_validate(event)
        assert parsed.type in SCORED_TYPES | OUTCOME_TYPES
        assert previous is None or parsed.timestamp >= previous, n
        previous = parsed.timestamp
    assert len({e["event_id"] for e in lines}) == len(lines)


def test_every_family_is_in_the_log_and_only_outcomes_come_before_the_week(lines: list[dict[str, Any]]) -> None:
    families = {e["family"] for e in lines}
    assert (
        set(ATTACKS) | set(LOOKALIKES) | {"parents", "holiday_packet_evening", "travel_home", "phone_changer"}
        <= families
    )
    for family in ATTACKS:
        assert {e["truth"] for e in lines if e["family"] == family} == {family}
    early = [e for e in lines if datetime.fromisoformat(e["timestamp"]) < START]
    assert early and all(e["type"] in ("order_paid", "member_joined") for e in early)
    # the export ends ten days after the week: late sessions and refunds are in it, nothing a month later
    assert datetime.fromisoformat(lines[-1]["timestamp"]) < START + timedelta(days=9 + TAIL_DAYS)
    assert sum(e["family"] == "parents" for e in lines) > 0.55 * len(lines)


def test_the_command_writes_the_file_and_shows_the_params(tmp_path: Path) -> None:
    out = tmp_path / "w.jsonl"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ops.worlds.rongcheng",
            "--seed",
            "6",
            "--events",
            "2500",
            "--out",
            str(out),
            "--show-params",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    shown = json.loads(run.stderr)
    assert set(ATTACKS) <= set(shown["families"]) and shown["families"]["device_farm"]["rack"] >= 12
    assert json.loads(run.stdout.splitlines()[-1])["events"] == len(out.read_text("utf-8").splitlines())


def test_no_wallet_token_reads_as_a_card_number() -> None:
    """The API refuses a payment holding a card-like digit run (seed 1 once drew ``pwc3582364316624``)."""
    from random import Random

    from engine.identity.payments import looks_like_pan
    from ops.worlds.rongcheng.city import City

    city = City(Random("wallets"))
    assert not [w for w in (city.wallet() for _ in range(20000)) if looks_like_pan(w)]
