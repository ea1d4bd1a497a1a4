"""Everything one worker holds while it serves: built in the lifespan, never at import.

``Runtime.open`` starts (or connects to) Redis, builds the feature store, the offer
ledger and the contact gate on one client, loads the rule set and seeds its lists;
``Runtime.close`` undoes it in reverse.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from api.admin.watch import RulesWatcher
from api.audit.record import record_watched
from api.audit.trail import AuditTrail
from api.auth import ApiKeys
from api.keys.store import KeyStore
from api.metrics import Metrics
from api.recording.observer import Observer
from api.redis_guard import RedisGuard
from api.rulesets import RuleSets
from api.services import Services, open_services
from api.settings import Settings
from engine.compile.isolated import CompileLimits
from engine.rule_engine import BASE, LoadedRuleSet, RuleEngine

log = logging.getLogger("yutang.api")


@dataclass
class Runtime:
    """The worker's settings, keys, metrics, Redis-backed services and rule sets."""

    settings: Settings
    keys: ApiKeys
    metrics: Metrics
    guard: RedisGuard
    services: Services
    rulesets: RuleSets
    observer: Observer
    keystore: KeyStore  # keys made through /v1/keys, and the tenants platform created
    audit: AuditTrail
    seeded: dict[str, str] = field(default_factory=dict)  # tenant -> version whose seed lists it holds
    watcher: RulesWatcher | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def assemble(
        cls,
        settings: Settings,
        keys: ApiKeys,
        metrics: Metrics,
        guard: RedisGuard,
        services: Services,
        rulesets: RuleSets,
    ) -> Runtime:
        """The parts built on ``services``' client (observer, key store, audit trail); nothing started.

        ``open`` and ``yutang worker`` (api/cases/timeouts.py) both build a runtime this one way.
        """
        observer = Observer(
            client=services.client,
            guard=guard,
            keys=services.keys,
            record=settings.record_events,
            max_events=settings.record_max_events,
        )
        keystore = KeyStore(services.client)
        audit = AuditTrail(services.client, retention_s=settings.audit_retention_days * 86400)
        return cls(settings, keys, metrics, guard, services, rulesets, observer, keystore, audit)

    @classmethod
    async def open(cls, settings: Settings, *, metrics: Metrics | None = None) -> Runtime:
        keys = ApiKeys.load(settings.api_keys, settings.api_keys_file, data_dir=settings.data_dir)
        if not len(keys):
            log.warning("no API keys configured (YUTANG_API_KEYS / YUTANG_API_KEYS_FILE): every request will get 401")
        if settings.trust_event_time:
            log.warning(
                "YUTANG_TRUST_EVENT_TIME is on: /v1/score takes event times as sent, so a caller decides caps, "
                "periods and velocity windows. Only for backfills and simulations, never a live deployment."
            )
        metrics = metrics or Metrics()
        services = await open_services(settings)
        # a client that times each round trip (one server) needs no second timer per call
        bound = None if services.handle.times_round_trips else settings.redis_timeout_s
        guard = RedisGuard(metrics=metrics, timeout_s=bound, breaker_s=settings.breaker_s)
        engine = RuleEngine(settings.rules_path, backend=settings.backend, webhook_policy=settings.webhook_policy())
        runtime: Runtime
        rulesets = RuleSets(
            engine,
            metrics=metrics,
            redis=services.client,
            on_swap=lambda tenant, loaded: runtime.seed(tenant, loaded),
            limits=CompileLimits(timeout_s=settings.compile_timeout_s, memory_mb=settings.compile_memory_mb),
            webhook_policy=settings.webhook_policy(),
            tenant_backend=settings.tenant_backend,
        )
        runtime = cls.assemble(settings, keys, metrics, guard, services, rulesets)
        try:
            await rulesets.start(keys.tenants)
            if settings.watch_rules:
                runtime.watcher = RulesWatcher(
                    rulesets,
                    settings.rules_path,
                    on_change=lambda tenant, old, new: record_watched(runtime, tenant, old, new),
                )
                await runtime.watcher.start()
        except BaseException:
            await runtime.close()
            raise
        runtime._tasks.append(asyncio.create_task(runtime._maintain()))
        runtime._tasks.append(asyncio.create_task(runtime.observer.run(settings.rules_poll_s)))
        if runtime.watcher is not None:
            runtime._tasks.append(asyncio.create_task(runtime.watcher.run(settings.rules_poll_s)))
        return runtime

    async def close(self) -> None:
        await _stop(self._tasks)
        await self.services.close()
        self.rulesets.engine.close()

    async def seed(self, tenant: str, loaded: LoadedRuleSet) -> None:
        """Write a newly running pack's seed list entries into the live lists of the tenants running it.

        A tenant's own pack seeds that tenant only; the base pack seeds every configured
        tenant that runs it (none that runs a pack of its own). A pack never names the
        tenant it writes into, so an upload cannot reach another tenant's lists.
        """
        owns = self.rulesets.engine.owns
        targets = [tenant] if tenant != BASE else [t for t in sorted(await self.known_tenants()) if not owns(t)]
        for target in targets:
            await self.seed_tenant(target, loaded)

    async def seed_tenant(self, tenant: str, loaded: LoadedRuleSet) -> None:
        version = loaded.ruleset.version
        try:
            await self.guard.call(
                "seed_lists",
                self.services.seed_lists(tenant=tenant, entries=loaded.ruleset.seed_lists, author=f"seed:{version}"),
            )
            self.seeded[tenant] = version
        except Exception as err:  # Redis down at start-up: _maintain retries
            log.warning("seed lists of %s for %s not written yet: %s", version, tenant, err)

    async def known_tenants(self) -> set[str]:
        """Tenants of the configured keys and those created through the API since (read on every call)."""
        try:
            created = await self.guard.call("keys", self.keystore.created_tenants())
        except Exception as err:  # Redis down: the configured tenants still get their pass
            log.debug("created tenants not read: %s", err)
            created = set()
        return set(self.keys.tenants) | created

    async def redis_ok(self) -> bool:
        try:
            return await asyncio.wait_for(self.services.ping(), self.settings.redis_timeout_s)
        except Exception:
            return False

    async def _maintain(self) -> None:
        """Follow reloads published by other workers; retry seeding; expire held rewards."""
        while True:
            await asyncio.sleep(self.settings.rules_poll_s)
            try:
                await self.rulesets.sync()
                tenants = await self.known_tenants()
                for tenant in sorted(tenants):
                    current = self.rulesets.of(tenant)
                    if self.seeded.get(tenant) != current.ruleset.version:
                        await self.seed_tenant(tenant, current)
                await self.services.expire_holds(tenants)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.debug("maintenance pass failed: %s", err)


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the background tasks and wait until they have ended.

    Cancelled again every second while one still runs: under load, a single
    ``cancel()`` was seen to leave ``_maintain`` looping (the task stuck "cancelling"
    in its sleep, the request swallowed on the way, most likely by a timeout block in
    the Redis calls it makes) and the shutdown hanging for ever.
    """
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        done, pending = await asyncio.wait(pending, timeout=1.0)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.debug("background task ended with %r", task.exception())
