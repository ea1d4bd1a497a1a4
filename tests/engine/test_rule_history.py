"""Kept versions on the durable backend: rollback, reloading a kept version, retiring, threads."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engine.errors import EngineError
from engine.events import Event
from engine.pack.loader import read_pack_files
from engine.rule_engine import RuleEngine

PACK = Path(__file__).resolve().parents[1] / "api" / "packs" / "small"
VIRTUAL = Event(event_id="e1", type="signup", customer="c1", phone="17000000000")


def pack(score: int) -> dict[str, str]:
    return {name: text.replace("score: 45", f"score: {score}") for name, text in read_pack_files(PACK).items()}


def virtual_score(files: dict[str, str] | object) -> int:
    text = "".join(files.values())  # type: ignore[attr-defined]
    return int(text.split("phone.segment in lists.virtual_segments")[1].split("score: ")[1].split()[0])


@pytest.fixture
def engine():  # type: ignore[no-untyped-def]
    rule_engine = RuleEngine(PACK, backend="durable", keep=2, grace_s=0.0)
    yield rule_engine
    rule_engine.close()


def test_rollback_makes_an_earlier_version_score_again(engine: RuleEngine) -> None:
    first = engine.load(pack(45))
    second = engine.load(pack(10))
    assert engine.evaluate(VIRTUAL, {}).score == 10
    assert engine.rollback(first.ruleset.version) is first
    assert engine.evaluate(VIRTUAL, {}).score == 45 and engine.current.files == pack(45)
    assert engine.versions() == [second.ruleset.version, first.ruleset.version]
    with pytest.raises(EngineError, match="not among the kept versions"):
        engine.rollback("no-such-version")


def test_reloading_a_kept_version_reuses_it_instead_of_leaking_a_second_backend(engine: RuleEngine) -> None:
    first = engine.load(pack(45))
    engine.load(pack(10))
    again = engine.load(pack(45))
    assert again is first and engine.current is first and len(engine.versions()) == 2


def test_a_set_dropped_from_history_still_answers_until_its_grace_ends() -> None:
    engine = RuleEngine(PACK, backend="durable", keep=1, grace_s=3600)
    try:
        held = engine.load(pack(45))  # a request took this reference...
        engine.load(pack(10))  # ...then a reload dropped it from the kept versions
        assert engine.versions() == [engine.current.ruleset.version]
        assert held.evaluate(VIRTUAL, {}).score == 45  # the request still finishes
    finally:
        engine.close()


def test_compiling_in_a_thread_while_evaluating_here_never_mixes_or_fails() -> None:
    engine = RuleEngine(PACK, backend="durable", keep=2)  # the default grace: dropped sets outlive their requests
    engine.load(pack(45))
    stop, errors = threading.Event(), []

    def reload_forever() -> None:
        try:
            score = 0
            while not stop.is_set():
                score = (score + 1) % 30
                engine.load(pack(score + 11))  # new durable rulesets built while the main thread evaluates
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    thread = threading.Thread(target=reload_forever)
    thread.start()
    try:
        seen = set()
        for number in range(1500):
            loaded = engine.current
            if number % 50 == 0:
                time.sleep(0.05)  # like a request awaiting Redis: several reloads happen meanwhile
            evaluation = loaded.evaluate(VIRTUAL, {})
            assert evaluation.ruleset_version == loaded.ruleset.version
            assert evaluation.score == virtual_score(loaded.files)
            seen.add(evaluation.score)
    finally:
        stop.set()
        thread.join()
        engine.close()
    assert not errors and len(seen) > 1
