"""What the simulator tests share: a deliberately simple address fold, and records by family."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

_FOLD = str.maketrans({**{0xFF10 + d: str(d) for d in range(10)}, "號": "号", "幢": "栋", "座": "栋"})


def fold_address(text: str) -> str:
    """The variants the simulator types, folded back (not a normalizer: only what the tests need)."""
    text = text.translate(_FOLD).replace("北京市", "").replace("号楼", "栋")
    text = re.sub(r"[\s,]", "", text)
    return re.sub(r"(\d+)(室|号)?$", r"\1", text)


def by_family(log: list[dict[str, Any]]) -> defaultdict[str, list[dict[str, Any]]]:
    out: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in log:
        out[record["family"]].append(record)
    return out
