"""Progress of a long command (replay, simulate) on stderr: a bar on a terminal, a plain line in a log.

On a terminal a rich progress bar redraws in place; anywhere else (CI, ``2> file``,
a container) a bar would fill the file with carriage returns, so one plain line is
written every ``every_s`` seconds instead, and a last one when the work ends:
``replay: 40,000 / 100,000 events (40%), 1,850/s, 32 s left``. stdout is never
touched: it carries the report (``--json``) or the log (``--out -``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO, TypeVar

T = TypeVar("T")

#: Items between two looks at the clock or two redraws (keeps the per-item cost to a counter).
STRIDE = 256


def tracked(
    items: Iterable[T], *, label: str, total: int | None, unit: str = "events", stream: TextIO | None = None,
    every_s: float = 5.0,
) -> Iterator[T]:  # fmt: skip
    """Yield ``items`` unchanged while reporting how far through ``total`` they are."""
    stream = stream or sys.stderr
    if _is_terminal(stream):
        yield from _bar(items, label=label, total=total, unit=unit, stream=stream)
    else:
        yield from _lines(items, label=label, total=total, unit=unit, stream=stream, every_s=every_s)


def count_lines(path: str | Path) -> int | None:
    """Non-blank lines of a file, read in 1 MiB blocks (~0.1 s per 100,000 events); None if unreadable."""
    try:
        with open(path, "rb") as handle:
            count, last = 0, b"\n"
            for block in iter(lambda: handle.read(1 << 20), b""):
                count += block.count(b"\n")
                last = block[-1:]
            return count + (last != b"\n")
    except OSError:
        return None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _bar(items: Iterable[T], *, label: str, total: int | None, unit: str, stream: TextIO) -> Iterator[T]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn(f"{label}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit), TimeElapsedColumn(),
        TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=Console(file=stream), transient=False) as progress:
        task = progress.add_task(label, total=total)
        done = 0
        for item in items:
            yield item
            done += 1
            if done % STRIDE == 0:
                progress.update(task, completed=done)
        progress.update(task, completed=done, total=total if total is not None else done)


def _lines(
    items: Iterable[T], *, label: str, total: int | None, unit: str, stream: TextIO, every_s: float
) -> Iterator[T]:
    started = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        if done % STRIDE == 0 and (now := time.monotonic()) - last >= every_s:
            last = now
            _line(stream, label, done, total, unit, now - started)
    _line(stream, label, done, total, unit, time.monotonic() - started, finished=True)


def _line(
    stream: TextIO, label: str, done: int, total: int | None, unit: str, seconds: float, *, finished: bool = False
) -> None:
    rate = done / seconds if seconds > 0 else 0.0
    of = f" / {total:,}" if total else ""
    share = f" ({done / total:.0%})" if total else ""
    if finished:
        tail = f" in {seconds:.1f} s"
    elif total and rate:
        tail = f", {max(total - done, 0) / rate:,.0f} s left"
    else:
        tail = ""
    stream.write(f"{label}: {done:,}{of} {unit}{share}, {rate:,.0f}/s{tail}\n")
    stream.flush()
