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
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from api.rulesets import RuleSets
from engine.errors import RuleLoadError
from engine.pack.loader import read_pack_files
from engine.rule_engine import BASE, LoadedRuleSet

#: Called with (tenant, the set before, the set now running) after the directory changed a tenant's rules.
OnChange = Callable[[str, LoadedRuleSet, LoadedRuleSet], Awaitable[None]]
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
    """Reloads ``rulesets`` when the files under ``root`` change: the base, and each ``tenants/<tenant>/``.

    A change of the base reloads the base and every tenant running a pack of its own on
    it (each keeps its layer: its directory, or its upload); a change under one tenant's
    directory reloads that tenant only.
    """

    def __init__(self, rulesets: RuleSets, root: Path, *, on_change: OnChange | None = None) -> None:
        self.rulesets = rulesets
        self.root = root
        self.on_change = on_change  # (tenant, before, after) once a changed directory is running: the audit trail
        self.seen: Fingerprint | None = None
        self.failures: dict[str, dict[str, Any]] = {}  # tenant (BASE: the base) -> its refused edit

    @property
    def failure(self) -> dict[str, Any] | None:
        """The base's refused edit, if any."""
        return self.failures.get(BASE)

    async def start(self) -> None:
        """Remember the directory as it is now (the loaded sets came from it)."""
        self.seen = await asyncio.to_thread(fingerprint, self.root)

    async def run(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.poll()
            except Exception as err:  # an unreadable directory must not stop the watch
                log.warning("watching %s failed: %s", self.root, err)

    async def poll(self) -> bool:
        """Reload what changed; True when a new set is running for anyone."""
        now = await asyncio.to_thread(fingerprint, self.root)
        if now == self.seen:
            return False
        before, self.seen = self.seen or (), now
        base = await asyncio.to_thread(read_pack_files, self.root)
        changed_dirs = _tenants_touched(before, now, self.rulesets.tenant_dir("x").parent)
        base_changed = base != dict(self.rulesets.base.files)
        changed = False
        if base_changed:
            changed |= await self._reload(BASE, base=base)
        for tenant in sorted(set(self.rulesets.engine.tenants()) | changed_dirs):
            running = self.rulesets.of(tenant)
            folder = self.rulesets.tenant_dir(tenant)
            if tenant in changed_dirs:
                layer: dict[str, str] | None = None  # read its directory again
            elif base_changed and self.rulesets.engine.owns(tenant):
                layer = dict(running.tenant_files)  # its upload or directory, on the new base
            else:
                continue
            if layer is None and not folder.is_dir() and not self.rulesets.engine.owns(tenant):
                continue
            changed |= await self._reload(tenant, base=base, layer=layer)
        return changed

    async def _reload(self, tenant: str, *, base: dict[str, str], layer: dict[str, str] | None = None) -> bool:
        before = self.rulesets.of(tenant)
        try:
            if tenant == BASE:
                loaded, changed = await self.rulesets.reload(BASE, base, source="watcher")
            else:
                loaded, changed = await self.rulesets.reload(tenant, layer, source="watcher", base_files=base)
        except RuleLoadError as err:
            self.failures[tenant] = {
                "at": time.time(),
                "diagnostics": [d.as_dict() for d in sorted(err.diagnostics, key=lambda d: not d.is_error)],
            }
            return False  # logged once, with its diagnostics, where every refused reload is (api/rulesets.py)
        self.failures.pop(tenant, None)  # the new set's "running" line is logged where every load is
        if changed and self.on_change is not None:
            await self.on_change(tenant, before, loaded)
        return changed


def _tenants_touched(before: Fingerprint, now: Fingerprint, tenants_root: Path) -> set[str]:
    """Tenants with a file added, removed or changed under ``tenants_root/<tenant>/``."""
    touched = set(before) ^ set(now)
    found = set()
    for path, _, _ in touched:
        with contextlib.suppress(ValueError):
            parts = Path(path).relative_to(tenants_root).parts
            if len(parts) > 1:
                found.add(parts[0])
    return found
