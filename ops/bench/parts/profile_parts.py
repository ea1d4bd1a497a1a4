"""Read py-spy's raw stacks and sort a ``/v1/score`` worker's samples into parts and phases.

A **part** is where the CPU was spent: each sample goes to the innermost frame that
names a part, so a redis-py frame called from the feature store counts as redis-py,
and HMAC hashing counts as hashing wherever it is called from. Generic frames (asyncio
streams, threading, the event loop's own run) are only a fallback: ``StreamWriter.writelines``
under redis-py is redis-py's, under nothing else it is the event loop's. A **phase** is
inclusive: a sample counts for every phase whose pattern some frame of it matches (the
feature round trip includes the redis-py work it does), so phases overlap and do not sum.

Patterns match py-spy's frame text, ``function (path/file.py:line)``, by module path
first: function names move as the hot path is reworked, modules less often.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Part:
    """A named pattern over frames; ``fallback`` parts count only when no other part names a frame."""

    name: str
    pattern: re.Pattern[str]
    fallback: bool = False


def _part(name: str, pattern: str, *, fallback: bool = False) -> Part:
    return Part(name, re.compile(pattern), fallback)


PARTS: list[Part] = [
    _part("link round (engine/features/links.py)", r"\(engine/features/links\.py"),
    _part("feature-store call construction (engine/features/)", r"\(engine/features/"),
    _part("HMAC of identities", r"\(hmac\.py|HMAC"),
    _part("phone/identity normalisation", r"\(phonenumbers/|\(engine/identity/"),
    _part("Redis plumbing (engine/datastore/, api/redis_guard.py)", r"\(engine/datastore/|\(api/redis_guard\.py"),
    _part("redis-py client (pack, pipeline, parse, socket writes)", r"\(redis/|hiredis"),
    _part(
        "rule evaluation (backends, facts, decide)",
        r"\(engine/backends/|\(engine/facts|\(engine/evaluation|\(engine/rule_engine\.py|durable_rules",
    ),
    _part("journeys", r"\(engine/journeys/|\(api/journeys/"),
    _part("offers and budgets", r"\(engine/offers/|\(api/offers/"),
    _part("idempotency claim (api/claims.py)", r"\(api/claims\.py"),
    _part("pydantic validation and dumps", r"\(pydantic|pydantic_core"),
    _part("JSON encode/decode (stdlib json, orjson)", r"\(json/|orjson"),
    _part("Prometheus metrics", r"\(prometheus_client/"),
    _part("route, middleware, answer (api/)", r"\(api/"),
    _part("other engine code", r"\(engine/"),
    _part("event loop's own run (uvloop: epoll, callbacks)", r"Runner\.run \(asyncio/runners\.py"),
    _part("uvicorn + httptools (parse, send: socket writes)", r"\(uvicorn/|httptools"),
    _part(
        "event loop, threads, stdlib (fallback)",
        r"\(asyncio/|uvloop|\(threading\.py|\(concurrent/|\(selectors",
        fallback=True,
    ),
]

PHASES: list[Part] = [
    _part("the /v1/score route, whole", r"\(api/scoring/"),
    _part("reading and validating the event", r"\(api/scoring/reading\.py|model_validate"),
    _part("feature round trips (record + read, links)", r"FeatureStore\.|\(engine/features/store\.py"),
    _part("  of which the link round", r"_link_round|\(engine/features/links\.py"),
    _part("rule evaluation", r"LoadedRuleSet\.evaluate|\(engine/evaluation"),
    _part("journeys", r"\(engine/journeys/|\(api/journeys/"),
    _part("offers (reserve, grant)", r"\(engine/offers/|\(api/offers/"),
    _part("idempotency claim and replay", r"\(api/claims\.py"),
    _part("writes after the decision", r"_keep \(api/scoring/|Writes\.send"),
    _part("sending the answer", r"_send \(api/scoring/|RequestResponseCycle\.send"),
    _part("Prometheus metrics", r"\(prometheus_client/"),
    _part("outside any request (loop, parsing, background)", r"^(?!.*\(api/scoring/).*$"),
]


def read_raw(path: Path) -> list[tuple[list[str], int]]:
    """py-spy ``-f raw`` lines as (frames root first, count); the ``process N:"cmd"`` frames dropped."""
    samples = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples.append(([f for f in stack.split(";") if not f.startswith("process ")], int(count)))
    return samples


def part_of(frames: list[str]) -> str:
    """The part of the innermost frame that names one; a fallback part only if none does; else ``other``."""
    fallback = None
    for frame in reversed(frames):
        for part in PARTS:
            if part.pattern.search(frame):
                if not part.fallback:
                    return part.name
                fallback = fallback or part.name
    return fallback or "other"


def attribute(samples: Iterable[tuple[list[str], int]]) -> tuple[Counter[str], Counter[str], int]:
    """Samples per part, samples per phase (inclusive), and the total."""
    parts: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    total = 0
    for frames, count in samples:
        total += count
        parts[part_of(frames)] += count
        joined = ";".join(frames)
        for phase in PHASES:
            if phase.pattern.search(joined):
                phases[phase.name] += count
    return parts, phases, total
