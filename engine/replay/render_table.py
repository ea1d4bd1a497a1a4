"""Plain-text tables and number formats shared by the replay report's sections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    body = [list(map(str, r)) for r in rows]
    if not body:
        return ["  (none)"]
    widths = [max(len(str(h)), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    fmt = "  " + "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*header), *(fmt.format(*r) for r in body)]


def num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) and not value.is_integer() else f"{value:g}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"
