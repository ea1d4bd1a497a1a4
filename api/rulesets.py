"""Every tenant's running rule set in this worker: reloads, rollbacks, their propagation, start-up.

The single owner of the running sets. A request reads its tenant's set once
(``of(principal.tenant)``, one dict lookup) and uses that reference throughout, so it
never sees half of two sets. A tenant without a pack of its own runs the platform's
base pack (the rules directory); one that has one (``rules/tenants/<tenant>/`` or an
upload) runs it layered on the base (engine/pack/layering.py). A reload or rollback
names one tenant and changes only that tenant's set.

A reload compiles off to the side, in a child process bounded in time and memory
(engine/compile/isolated.py: an uploaded pack is untrusted text, and compiling must
not stall traffic), builds the backend in a thread, and swaps one reference inside
``RuleEngine``. A compile that fails, runs out of time or memory, or whose client
disconnects (``abandoned``) changes nothing.

Each success is published in Redis (api/rule_store.py) with its files, time, author
and source; every worker polls one sequence key and adopts the tenants whose
generation changed. At start-up a tenant runs its published set when that was an
upload or a rollback (a deliberate act a restart must not forget), else what the
directory says (docs/rollout.md, "Which pack wins").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from api.errors import ApiError
from api.metrics import Metrics
from api.rule_store import STICKY, RuleStore, VersionRecord, new_record
from engine.backends import BackendKind
from engine.compile.isolated import Compiled, CompileLimits, compile_isolated
from engine.compile.pack import tenant_pack_path
from engine.egress.policy import WebhookPolicy
from engine.errors import CompileAbandoned, EngineError, RuleLoadError
from engine.pack.layering import layered_version
from engine.pack.loader import content_version, read_pack_files
from engine.rule_engine import BASE, LoadedRuleSet, RuleEngine, assemble

log = logging.getLogger("yutang.rules")

#: Tells whether the client that asked for a compile has gone (Starlette's ``Request.is_disconnected``).
Abandoned = Callable[[], Awaitable[bool]]
#: Called with a tenant (BASE: the base pack) and its newly running set (seeds its lists).
OnSwap = Callable[[str, LoadedRuleSet], Awaitable[None]]


class StaleVersion(ApiError):
    """A change made from a version that is no longer the tenant's running one (409)."""

    status = 409
    code = "stale_version"


class RuleSets:
    """This worker's rule engine (every tenant's sets) plus the reload protocol around it."""

    def __init__(
        self,
        engine: RuleEngine,
        *,
        metrics: Metrics,
        redis: Any,
        on_swap: OnSwap,
        limits: CompileLimits | None = None,
        webhook_policy: WebhookPolicy | None = None,
        tenant_backend: BackendKind | str = BackendKind.PYTHON,
    ) -> None:
        self.engine = engine
        # tenants' own packs: python by default, since durable_rules holds ~10 MB per 100-rule
        # pack (1,000 tenants: ~10 GB) where the generated code holds ~0.4 MB (ops/bench/tenants.py)
        self.tenant_backend = BackendKind(tenant_backend)
        self.limits = limits or CompileLimits()
        self.metrics = metrics
        self.store = RuleStore(redis, keep=engine.keep)
        self.on_swap = on_swap
        self.policy = webhook_policy or engine.webhook_policy or WebhookPolicy()
        self.generations: dict[str, str] = {}
        self.sequence: str | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    def of(self, tenant: str) -> LoadedRuleSet:
        """``tenant``'s running set (its own or the base's): read once per request."""
        return self.engine.current_for(tenant)

    @property
    def base(self) -> LoadedRuleSet:
        return self.engine.current

    def tenant_dir(self, tenant: str) -> Path:
        return tenant_pack_path(self.engine.rules_path, tenant)

    async def start(self, tenants: Iterable[str] = ()) -> LoadedRuleSet:
        """Load the base and every tenant's pack (published upload/rollback, else its directory)."""
        with contextlib.suppress(Exception):
            self.sequence = await self.store.sequence()
            self.generations = await self.store.generations()
        base = await self._start_one(BASE)
        names = set(tenants) | set(self.generations) | set(self._tenant_dirs())
        for tenant in sorted(names - {BASE}):
            try:
                await self._start_one(tenant)
            except RuleLoadError as err:  # one tenant's broken pack must not keep the others down
                log.error("tenant %s's pack does not compile; it runs the base pack:\n%s", tenant, err)
        return base

    async def _start_one(self, tenant: str) -> LoadedRuleSet:
        published = None
        with contextlib.suppress(Exception):
            published = await self.store.published(tenant)
        if published is not None and published.source in STICKY and published.files:
            loaded = await self._adopt(tenant, published)
            return loaded
        if tenant != BASE and not self.tenant_dir(tenant).is_dir() and published is None:
            return self.of(tenant)  # runs the base
        return (await self.reload(tenant, source="startup"))[0]

    def _tenant_dirs(self) -> list[str]:
        root = tenant_pack_path(self.engine.rules_path, "x").parent
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def lock(self, tenant: str) -> asyncio.Lock:
        return self._locks.setdefault(tenant, asyncio.Lock())

    async def reload(
        self,
        tenant: str = BASE,
        files: Mapping[str, str] | None = None,
        *,
        abandoned: Abandoned | None = None,
        author: str | None = None,
        source: str = "api",
        base_files: Mapping[str, str] | None = None,
        expect: str | None = None,
    ) -> tuple[LoadedRuleSet, bool]:
        """Compile and swap ``tenant``'s set; publish it for the other workers. Returns (set, changed).

        ``files``: the tenant's own pack (layered on the running base, or alone when it
        declares ``pack:``); None: the directory (the base, and ``tenants/<tenant>/``).
        For the base itself (tenant BASE) ``files`` replace the whole base pack.
        ``abandoned`` (the request's ``is_disconnected``) stops the compile, raising CompileAbandoned.
        ``expect``: the version the change was made from; StaleVersion if another is running by now
        (checked under the tenant's lock, so a reload or rollback in between is never overwritten).
        """
        async with self.lock(tenant):
            before = self.of(tenant).ruleset.version if self.engine.loaded else None
            if expect is not None and before != expect:
                raise StaleVersion(
                    f"the change was made from version {expect}, but {before} is running now: "
                    "open the file again and redo the change on it",
                    extra={"edited_from": expect, "running": before},
                )
            base, layer = await self._layers(tenant, files, base_files)
            loaded = await self._load(tenant, base, layer, abandoned=abandoned)
            changed = loaded.ruleset.version != before
            if changed or source != "startup":
                record = new_record(loaded, source=source, author=author, previous=before)
                await self._publish(tenant, record)
            return loaded, changed

    async def _layers(
        self, tenant: str, files: Mapping[str, str] | None, base_files: Mapping[str, str] | None
    ) -> tuple[Mapping[str, str], Mapping[str, str]]:
        if tenant == BASE:
            return (
                files if files is not None else await asyncio.to_thread(read_pack_files, self.engine.rules_path)
            ), {}
        if base_files is None:
            if files is None or not self.engine.loaded:
                base_files = await asyncio.to_thread(read_pack_files, self.engine.rules_path)
            else:
                base_files = self.base.files  # an upload goes onto the base this deployment runs
        if files is None:
            folder = self.tenant_dir(tenant)
            files = await asyncio.to_thread(read_pack_files, folder) if folder.is_dir() else {}
        return base_files, files

    async def rollback(self, tenant: str, version: str, *, author: str | None = None) -> LoadedRuleSet:
        """Make a kept version ``tenant``'s current again here and publish it for the other workers.

        Kept in this worker: swapped without compiling; kept only in Redis (this worker
        restarted since): compiled again from its recorded files. EngineError if neither.
        """
        async with self.lock(tenant):
            before = self.of(tenant).ruleset.version
            if version in self.engine.versions(tenant):
                loaded = await self._swap_to(tenant, version)
            else:
                record = await self.store.find(tenant, version)
                if record is None:
                    raise EngineError(f"version {version} is not kept for this tenant")
                loaded = await self._load(tenant, record.files, record.tenant_files)
            record = new_record(loaded, source="rollback", author=author, previous=before)
            await self._publish(tenant, record)
            return loaded

    async def kept_versions(self, tenant: str) -> list[str]:
        """Versions ``tenant`` may roll back to: kept here or recorded in Redis."""
        here = self.engine.versions(tenant)
        with contextlib.suppress(Exception):
            recorded = [r.version for r in await self.store.history(tenant if self.engine.owns(tenant) else BASE)]
            return [*[v for v in recorded if v not in here], *here]
        return here

    async def record(self, tenant: str, version: str) -> VersionRecord | None:
        """The files and facts of a version ``tenant`` ran (kept here or in Redis); never another tenant's."""
        if version not in await self.kept_versions(tenant):
            return None
        for owner in (tenant, BASE):
            found = await self.store.find(owner, version)
            if found is not None:
                return found
        kept = self.engine.find(version) if version in self.engine.versions(tenant) else None
        if kept is None:
            return None
        return new_record(kept, source="startup", author=None, previous=None)

    async def follow(self, interval_s: float) -> None:
        """Poll the publications forever; adopt what other workers published."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sync()
            except Exception as err:
                log.debug("rule set poll failed: %s", err)

    async def sync(self) -> list[str]:
        """Adopt every tenant's set another worker published; the tenants swapped."""
        sequence = await self.store.sequence()
        if sequence == self.sequence:
            return []
        self.sequence = sequence
        swapped = []
        for tenant, generation in sorted((await self.store.generations()).items()):
            if self.generations.get(tenant) != generation and await self._follow(tenant):
                swapped.append(tenant)
        return swapped

    async def catch_up(self, tenant: str, generations: Mapping[str, str]) -> LoadedRuleSet:
        """``tenant``'s set as last published by any worker (the base's first), adopted here if not yet."""
        for owner in dict.fromkeys((BASE, tenant)):
            if owner in generations and self.generations.get(owner) != generations[owner]:
                await self._follow(owner)
        return self.of(tenant)

    async def _follow(self, tenant: str) -> bool:
        """Adopt ``tenant``'s published set unless it runs here already; whether it swapped."""
        async with self.lock(tenant):
            published = await self.store.published(tenant)
            if published is None:
                return False
            self.generations[tenant] = published.generation
            if (
                self.engine.loaded
                and self.of(tenant).ruleset.version == published.version
                and (tenant == BASE or self.engine.owns(tenant))
            ):
                return False
            try:
                await self._adopt(tenant, published)
                return True
            except RuleLoadError as err:
                log.error("tenant %r's published rule set does not compile here: %s", tenant or "<base>", err)
                return False

    async def _adopt(self, tenant: str, published: VersionRecord) -> LoadedRuleSet:
        self.generations[tenant] = published.generation
        if published.version in self.engine.versions(tenant):
            return await self._swap_to(tenant, published.version)
        return await self._load(tenant, published.files, published.tenant_files)

    async def _publish(self, tenant: str, record: VersionRecord) -> None:
        try:
            self.generations[tenant] = await self.store.publish(tenant, record)  # the routes write the audit entry
        except Exception as err:  # the swap here stands; other workers catch up on the next reload
            log.warning("rule set %s of %r not published to other workers: %s", record.version, tenant, err)

    async def _swap_to(self, tenant: str, version: str) -> LoadedRuleSet:
        before = self.of(tenant).ruleset.version if self.engine.loaded else None
        loaded = self.engine.rollback(version, tenant)
        self.metrics.reloads.labels("rollback").inc()
        self.metrics.running_version(version, before, tenant=tenant)
        log.info("rule set %s running again for %r (was %s)", version, tenant or "<base>", before)
        await self.on_swap(tenant, loaded)
        return loaded

    async def compile(
        self,
        files: Mapping[str, str],
        *,
        abandoned: Abandoned | None = None,
        webhook_policy: WebhookPolicy | None = None,
        tenant_files: Mapping[str, str] | None = None,
        backend: BackendKind | None = None,
    ) -> Compiled:
        """Compile for ``backend`` (default: the base's) in a bounded child process (nothing is loaded).

        Webhook URLs are checked against ``webhook_policy`` (one tenant's) or else the
        engine's (every tenant's: what the base pack may hold).
        """
        return await compile_isolated(
            files,
            backend=backend or self.engine.backend,
            limits=self.limits,
            abandoned=abandoned,
            webhook_policy=webhook_policy or self.engine.webhook_policy,
            tenant_files=tenant_files,
        )

    def _allowed(self, tenant: str, loaded: LoadedRuleSet) -> bool:
        """Whether a set compiled for another tenant may run for ``tenant``: its webhooks' hosts are allowed here."""
        if tenant == BASE:
            return True
        hooks = loaded.ruleset.automation.webhooks.values()
        return all(self.policy.url_refusal(hook.url, tenant=tenant) is None for hook in hooks)

    def backend_for(self, tenant: str) -> BackendKind:
        """The base runs the deployment's backend; a tenant's own pack runs ``tenant_backend``."""
        return self.engine.backend if tenant == BASE else self.tenant_backend

    def policy_for(self, tenant: str) -> WebhookPolicy | None:
        """Where ``tenant``'s webhooks may go (the base: wherever any tenant's may)."""
        return self.engine.webhook_policy if tenant == BASE else self.policy.only(tenant)

    async def _load(
        self,
        tenant: str,
        files: Mapping[str, str],
        tenant_files: Mapping[str, str],
        *,
        abandoned: Abandoned | None = None,
    ) -> LoadedRuleSet:
        before = self.of(tenant).ruleset.version if self.engine.loaded else None
        expected = layered_version(files, tenant_files) if tenant_files else content_version(files)
        kept = self.engine.find(expected)
        if kept is not None and self._allowed(tenant, kept):
            loaded = self.engine.install(kept, tenant)  # compiled already (another tenant, or earlier)
        else:
            kind = self.backend_for(tenant)
            try:
                ruleset, diagnostics = await self.compile(
                    files, abandoned=abandoned, webhook_policy=self.policy_for(tenant), tenant_files=tenant_files,
                    backend=kind,
                )  # fmt: skip
            except CompileAbandoned:
                self.metrics.reloads.labels("abandoned").inc()
                raise
            if ruleset is None:
                self.metrics.reloads.labels("failed").inc()
                errors = [d.render() for d in diagnostics if d.is_error]
                log.error(
                    "rule set of %s refused (%d error(s)), %s keeps running: %s", tenant or "<base>", len(errors),
                    before, "; ".join(errors[:5]), extra={"diagnostics": errors[:50], "tenant": tenant},
                )  # fmt: skip
                raise RuleLoadError(diagnostics)
            built = await asyncio.to_thread(assemble, ruleset, diagnostics, files, kind, tenant_files)
            loaded = self.engine.install(built, tenant)
        version = loaded.ruleset.version
        self.metrics.reloads.labels("ok" if version != before else "unchanged").inc()
        self.metrics.running_version(version, before, tenant=tenant)
        if version != before:
            log.info("rule set %s running for %r (%d rules)", version, tenant or "<base>", len(loaded.ruleset.rules))
            await self.on_swap(tenant, loaded)
        return loaded
