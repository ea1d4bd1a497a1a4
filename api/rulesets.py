"""The running rule set of this worker: reloads, their propagation to every worker, seeding.

A reload compiles off to the side, in a child process bounded in time and memory
(engine/compile/isolated.py: an uploaded pack is untrusted text, and compiling must
not stall traffic), builds the backend in a thread, and swaps one reference inside
``RuleEngine``; a request takes that reference once and uses it throughout, so it
never sees half of two sets. A compile that fails, runs out of time or memory, or
whose client disconnects (``abandoned``) changes nothing.

Several workers (and hosts) each hold their own rule set. A successful reload is
published in Redis under ``yt:rules:published`` (a generation id and, for uploaded
packs, the files); every worker polls that key and reloads when the generation
changes. The rules directory stays the source of truth at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from api.metrics import Metrics
from engine.compile.isolated import Compiled, CompileLimits, compile_isolated
from engine.egress.policy import WebhookPolicy
from engine.errors import CompileAbandoned, RuleLoadError
from engine.pack.loader import read_pack_files
from engine.rule_engine import LoadedRuleSet, RuleEngine, assemble

log = logging.getLogger("yutang.rules")
PUBLISHED_KEY = "yt:rules:published"

#: Tells whether the client that asked for a compile has gone (Starlette's ``Request.is_disconnected``).
Abandoned = Callable[[], Awaitable[bool]]
#: Called with each newly running set (seeds its lists).
OnSwap = Callable[[LoadedRuleSet], Awaitable[None]]


class RuleSets:
    """This worker's rule engine plus the reload protocol around it."""

    def __init__(
        self,
        engine: RuleEngine,
        *,
        metrics: Metrics,
        redis: Any,
        on_swap: OnSwap,
        limits: CompileLimits | None = None,
    ) -> None:
        self.engine = engine
        self.limits = limits or CompileLimits()
        self.metrics = metrics
        self.redis = redis
        self.on_swap = on_swap
        self.generation: str | None = None
        self._reload_lock = asyncio.Lock()

    @property
    def current(self) -> LoadedRuleSet:
        return self.engine.current

    async def start(self) -> LoadedRuleSet:
        """Load the rules directory and remember which published generation that answers."""
        with contextlib.suppress(Exception):
            published = await self._published()
            self.generation = published.get("generation") if published else None
        loaded = await self._load(None)
        return loaded

    async def reload(
        self, files: Mapping[str, str] | None = None, *, abandoned: Abandoned | None = None
    ) -> tuple[LoadedRuleSet, bool]:
        """Compile and swap; publish for the other workers. Returns (set, changed).

        ``abandoned`` (the request's ``is_disconnected``) stops the compile, raising CompileAbandoned.
        """
        async with self._reload_lock:
            before = self.engine.current.ruleset.version if self.engine.loaded else None
            loaded = await self._load(files, abandoned=abandoned)
            changed = loaded.ruleset.version != before
            generation = uuid.uuid4().hex
            payload = {
                "generation": generation,
                "version": loaded.ruleset.version,
                "files": dict(files) if files is not None else None,
            }
            try:
                await self.redis.set(PUBLISHED_KEY, json.dumps(payload))
                self.generation = generation
            except Exception as err:  # the swap here stands; other workers catch up on the next reload
                log.warning("reload of %s not published to other workers: %s", loaded.ruleset.version, err)
            return loaded, changed

    async def follow(self, interval_s: float) -> None:
        """Poll the published generation forever; reload when another worker published."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sync()
            except RuleLoadError as err:
                log.error("published rule set does not compile here: %s", err)
            except Exception as err:
                log.debug("rule set poll failed: %s", err)

    async def sync(self) -> bool:
        """Adopt the published rule set if it is newer than ours; True when swapped."""
        published = await self._published()
        if not published or published.get("generation") == self.generation:
            return False
        async with self._reload_lock:
            self.generation = published["generation"]
            files, version = published.get("files"), published.get("version")
            if self.engine.loaded and self.engine.current.ruleset.version == version:
                return False
            if version in self.engine.versions():  # a rollback (or a reload of a kept version): no compile
                await self._swap_to(version)
                return True
            await self._load(files)
            return True

    async def rollback(self, version: str) -> LoadedRuleSet:
        """Make a kept version current here and publish it (with its files) for the other workers."""
        async with self._reload_lock:
            loaded = await self._swap_to(version)
            payload: dict[str, Any] = {"generation": uuid.uuid4().hex, "version": version, "files": dict(loaded.files)}
            try:
                await self.redis.set(PUBLISHED_KEY, json.dumps(payload))
                self.generation = payload["generation"]
            except Exception as err:
                log.warning("rollback to %s not published to other workers: %s", version, err)
            return loaded

    async def _swap_to(self, version: str) -> LoadedRuleSet:
        before = self.engine.current.ruleset.version if self.engine.loaded else None
        loaded = self.engine.rollback(version)
        self.metrics.reloads.labels("rollback").inc()
        self.metrics.running_version(version, before)
        log.info("rule set %s running again (was %s)", version, before)
        await self.on_swap(loaded)
        return loaded

    async def _published(self) -> dict[str, Any] | None:
        raw = await self.redis.get(PUBLISHED_KEY)
        return json.loads(raw) if raw else None

    async def compile(
        self,
        files: Mapping[str, str],
        *,
        abandoned: Abandoned | None = None,
        webhook_policy: WebhookPolicy | None = None,
    ) -> Compiled:
        """Compile ``files`` for this worker's backend in a bounded child process (nothing is loaded).

        Webhook URLs are checked against ``webhook_policy`` (one tenant's, for its
        validate) or else the engine's (every tenant's: what a loaded set may hold).
        """
        return await compile_isolated(
            files,
            backend=self.engine.backend,
            limits=self.limits,
            abandoned=abandoned,
            webhook_policy=webhook_policy or self.engine.webhook_policy,
        )

    async def _load(self, files: Mapping[str, str] | None, *, abandoned: Abandoned | None = None) -> LoadedRuleSet:
        before = self.engine.current.ruleset.version if self.engine.loaded else None
        if files is None:
            files = await asyncio.to_thread(read_pack_files, self.engine.rules_path)
        try:
            ruleset, diagnostics = await self.compile(files, abandoned=abandoned)
        except CompileAbandoned:
            self.metrics.reloads.labels("abandoned").inc()
            raise
        if ruleset is None:
            self.metrics.reloads.labels("failed").inc()
            errors = [d.render() for d in diagnostics if d.is_error]
            log.error(
                "rule set refused (%d error(s)), %s keeps running: %s", len(errors), before, "; ".join(errors[:5]),
                extra={"diagnostics": errors[:50]},
            )  # fmt: skip
            raise RuleLoadError(diagnostics)
        kind = self.engine.backend
        loaded = await asyncio.to_thread(lambda: self.engine.install(assemble(ruleset, diagnostics, files, kind)))
        version = loaded.ruleset.version
        self.metrics.reloads.labels("ok" if version != before else "unchanged").inc()
        self.metrics.running_version(version, before)
        if version != before:
            log.info("rule set %s running (%d rules)", version, len(loaded.ruleset.rules))
            await self.on_swap(loaded)
        return loaded
