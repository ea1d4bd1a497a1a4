"""Watch the rules directory and reload when a file changes.

Polls the ``*.yaml``/``*.yml`` files' paths, sizes and modification times every few
seconds (``os.stat`` of a handful of files: nothing worth a dependency; a library
such as watchfiles would add inotify wake-ups this loop does not need, and network
or container-mounted directories often deliver no inotify events at all). When they
change, the files are read and, if their text differs from the running set's, the
pack is reloaded through :class:`api.rulesets.RuleSets` (compiled in a thread,
swapped whole, published to the other workers). A pack that does not compile is
refused: the running set stays, and the diagnostics are kept for ``/v1/rules/versions``
and the console until the directory changes again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from api.rulesets import RuleSets
from engine.errors import RuleLoadError
from engine.pack.loader import read_pack_files
from engine.rule_engine import LoadedRuleSet

log = logging.getLogger("yutang.rules")

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(root: Path) -> Fingerprint:
    """Path, size and mtime (ns) of every rule file under ``root``."""
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
    found = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:  # deleted between listing and stat: the next pass sees the new state
            continue
        found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


class RulesWatcher:
    """Reloads ``rulesets`` when the files under ``root`` change."""

    def __init__(
        self,
        rulesets: RuleSets,
        root: Path,
        on_change: Callable[[LoadedRuleSet, LoadedRuleSet], Awaitable[None]] | None = None,
    ) -> None:
        self.rulesets = rulesets
        self.on_change = on_change  # (before, after) once a changed directory is running: the audit trail
        self.root = root
        self.seen: Fingerprint | None = None
        self.failure: dict[str, Any] | None = None

    async def start(self) -> None:
        """Remember the directory as it is now (the loaded set came from it)."""
        self.seen = await asyncio.to_thread(fingerprint, self.root)

    async def run(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.poll()
            except Exception as err:  # an unreadable directory must not stop the watch
                log.warning("watching %s failed: %s", self.root, err)

    async def poll(self) -> bool:
        """Reload if the directory changed; True when a new set is running."""
        now = await asyncio.to_thread(fingerprint, self.root)
        if now == self.seen:
            return False
        self.seen = now
        files = await asyncio.to_thread(read_pack_files, self.root)
        if files == dict(self.rulesets.current.files):
            self.failure = None
            return False
        before = self.rulesets.current
        try:
            loaded, changed = await self.rulesets.reload(files)
        except RuleLoadError as err:
            self.failure = {
                "at": time.time(),
                "diagnostics": [d.as_dict() for d in sorted(err.diagnostics, key=lambda d: not d.is_error)],
            }
            return False  # logged once, with its diagnostics, where every refused reload is (api/rulesets.py)
        self.failure = None  # the new set's "running" line is logged where every load is (api/rulesets.py)
        if changed and self.on_change is not None:
            await self.on_change(before, loaded)
        return changed
