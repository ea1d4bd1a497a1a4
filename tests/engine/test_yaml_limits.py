"""Rule text is bounded: depth, expanded size and alias cycles are LIMIT_EXCEEDED at their place, fast."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from engine.diagnostics import Code
from engine.pack import loader, yaml_source
from engine.pack.loader import MAX_LIST_VALUES, MAX_PACK_NODES, load_sources
from engine.pack.yaml_source import MAX_DEPTH, MAX_NODES, load_yaml


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefghijklmnop", "bcdefghijklmnop"[: levels - 1], strict=False):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def bounded(text: str) -> tuple[list[str], float, int]:
    """Rendered diagnostics, seconds and peak bytes allocated while loading ``text``."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        _, diagnostics = load_yaml("pack.yaml", text)
        return [d.render() for d in diagnostics], time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_300_byte_alias_bomb_is_refused_at_the_alias_in_milliseconds() -> None:
    text = billion_laughs()
    assert len(text.encode()) < 400
    rendered, seconds, peak = bounded(text)
    assert rendered == [
        "pack.yaml:6:11 LIMIT_EXCEEDED alias '*e' takes the file past 200000 values"
        " (aliases counted at their expanded size)"
    ]
    assert seconds < 0.5 and peak < 5_000_000


def test_ten_thousand_nested_sequences_are_refused_at_the_limit_not_a_recursion_error() -> None:
    rendered, seconds, peak = bounded("x: " + "[" * 10_000 + "]" * 10_000)
    assert rendered == [f"pack.yaml:1:{4 + MAX_DEPTH} LIMIT_EXCEEDED nesting is deeper than {MAX_DEPTH} levels"]
    assert seconds < 0.5 and peak < 5_000_000


def test_deep_block_mappings_are_refused_too() -> None:
    text = "".join(" " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5))
    (rendered,) = bounded(text)[0]
    assert rendered.endswith(f"LIMIT_EXCEEDED nesting is deeper than {MAX_DEPTH} levels")


def test_nesting_up_to_the_limit_and_ordinary_aliases_still_load() -> None:
    source, diagnostics = load_yaml("pack.yaml", "x: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1))
    assert diagnostics == [] and source is not None
    source, diagnostics = load_yaml("pack.yaml", "a: &reason {zh: 多账号, en: many accounts}\nb: *reason\n")
    assert diagnostics == [] and source is not None and source.data["b"] == {"zh": "多账号", "en": "many accounts"}


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    rendered, _, _ = bounded("x: &loop {again: *loop}\n")
    assert rendered == ["pack.yaml:1:18 LIMIT_EXCEEDED alias '*loop' is inside its own anchor: it never ends"]


def test_plain_node_count_is_capped_per_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_source, "MAX_NODES", 1000)  # the real 200,000 takes PyYAML ~5 s to reach
    text = "lists:\n  big: [" + ",".join("1" for _ in range(1000)) + "]\n"
    assert bounded(text)[0] == [
        "pack.yaml:2:1999 LIMIT_EXCEEDED this value takes the file past 1000 values"
        " (aliases counted at their expanded size)"
    ]


def test_the_whole_pack_is_capped_across_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_PACK_NODES", 2500)
    text = "lists:\n  big: [" + ",".join("1" for _ in range(995)) + "]\n"
    pack = load_sources({f"f{i}.yaml": text for i in range(5)})
    refused = [d.render() for d in pack.diagnostics if d.code is Code.LIMIT_EXCEEDED]
    assert refused == [
        "f3.yaml:1:1 LIMIT_EXCEEDED the pack expands to more than 2500 values before this file; it is not read",
        "f4.yaml:1:1 LIMIT_EXCEEDED the pack expands to more than 2500 values before this file; it is not read",
    ]
    assert [f.path for f in pack.files] == ["f0.yaml", "f1.yaml", "f2.yaml"]


def test_the_real_limits_admit_the_largest_list_a_pack_may_hold() -> None:
    assert MAX_NODES > MAX_LIST_VALUES + 100 and MAX_PACK_NODES >= 2 * MAX_NODES
