"""The console's static side: the shell page and the files under ``static/``, served from memory.

The shell (``index.html``) is the same page for every view's URL (``/console/<id>``):
the browser's router draws the view, so a reload or a shared link lands on the same
view. The views are found here, not listed in a shared file: every ``static/views/*.js``
is one view, and the page is told their names, so adding a view edits nothing else.

Static files are read once into a table keyed by their path below ``static/``; a
request can only name a key of that table, so no path a caller sends reaches the
file system (no ``..``, no symlinks, no absolute paths).

Every page is sent with a Content-Security-Policy (:func:`policy`): scripts only from
``/console/static/`` and the page's own inline scripts, by their hash, so markup that gets
past an escape (an ``onerror=`` in a rule reason, as the dashboard's tooltip once let
through) runs nothing in a tab holding an admin's key. ``'unsafe-eval'`` stays: the vendored
ECharts compiles its formatters with ``new Function``; styles may be inline (``style=``
attributes and the views' computed styles), which runs no script.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
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


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_DIRECTIVES = (
    "default-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
)


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


@cache
def policy(html: str) -> str:
    """The Content-Security-Policy of ``html``: its own inline scripts by hash, others' never."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return "; ".join((_DIRECTIVES[0], f"script-src 'self' 'unsafe-eval'{hashes}", *_DIRECTIVES[1:]))


def page_headers(html: str) -> dict[str, str]:
    """What every console page is sent with: never cached, and its script policy."""
    return {"Cache-Control": "no-store", "Content-Security-Policy": policy(html), "X-Content-Type-Options": "nosniff"}
