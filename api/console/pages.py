"""The console's static side: the shell page and the files under ``static/``, served from memory.

The shell (``index.html``) is the same page for every view's URL (``/console/<id>``):
the browser's router draws the view, so a reload or a shared link lands on the same
view. The views are found here, not listed in a shared file: every ``static/views/*.js``
is one view, and the page is told their names, so adding a view edits nothing else.

Static files are read once into a table keyed by their path below ``static/``; a
request can only name a key of that table, so no path a caller sends reaches the
file system (no ``..``, no symlinks, no absolute paths).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
STATIC = HERE / "static"
PAGE = HERE / "index.html"
#: The one-page console of before, kept at /console/all while its parts move into views (docs/console.md).
CLASSIC = HERE / "classic.html"
CLASSIC_ID = "all"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str


@cache
def assets() -> dict[str, Asset]:
    """Every servable file below ``static/`` by its relative path (``views/rules.js``)."""
    found: dict[str, Asset] = {}
    for path in sorted(STATIC.rglob("*")):
        media_type = TYPES.get(path.suffix)
        if path.is_file() and media_type and not path.is_symlink():
            found[path.relative_to(STATIC).as_posix()] = Asset(path.read_bytes(), media_type)
    return found


@cache
def view_ids() -> tuple[str, ...]:
    """The views the shell loads: one per ``static/views/<id>.js``."""
    return tuple(sorted(p.removeprefix("views/").removesuffix(".js") for p in assets() if _is_view(p)))


def _is_view(path: str) -> bool:
    return path.startswith("views/") and path.endswith(".js") and path.count("/") == 1


@cache
def page() -> str:
    """The shell with the view list written into it (no extra round trip before the first view)."""
    return PAGE.read_text(encoding="utf-8").replace("__YT_VIEWS__", json.dumps(list(view_ids())))


@cache
def classic() -> str:
    return CLASSIC.read_text(encoding="utf-8")
