"""JSON bytes of the answers the hot route sends and keeps: orjson, with the standard library behind it.

orjson writes the same JSON as ``json.dumps(ensure_ascii=False, separators=(",", ":"))``
for everything an answer holds (str, int, float, bool, None, lists, dicts) in a fifth
of the time. What it refuses falls back to the standard library, so nothing a caller
can put into an answer turns into a 500: an integer past 64 bits in an attribute a rule
read, a dict with non-string keys, nesting past orjson's 255 levels. Date-times keep
the ``str()`` spelling the kept answers always had (``2026-01-01 00:00:00+00:00``);
NaN and infinities, which no strict parser reads, are written as ``null``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def encode(body: Any) -> bytes:
    """Compact UTF-8 JSON of ``body``; anything that is not JSON is written as its ``str()``."""
    try:
        return orjson.dumps(body, default=str, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: a big integer, a non-string key, too deep
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode()
