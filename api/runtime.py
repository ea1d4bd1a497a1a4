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
from engine.rule_engine import LoadedRuleSet, RuleEngine

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
    seeded_version: str | None = None
    watcher: RulesWatcher | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def open(cls, settings: Settings, *, metrics: Metrics | None = None) -> Runtime:
        keys = ApiKeys.load(settings.api_keys, settings.api_keys_file)
        if not len(keys):
            log.warning("no API keys configured (YUTANG_API_KEYS / YUTANG_API_KEYS_FILE): every request will get 401")
        if settings.trust_event_time:
            log.warning(
                "YUTANG_TRUST_EVENT_TIME is on: /v1/score takes event times as sent, so a caller decides caps, "
                "periods and velocity windows. Only for backfills and simulations, never a live deployment."
            )
        metrics = metrics or Metrics()
        services = await open_services(settings)
        guard = RedisGuard(metrics=metrics, timeout_s=settings.redis_timeout_s, breaker_s=settings.breaker_s)
        engine = RuleEngine(settings.rules_path, backend=settings.backend, webhook_policy=settings.webhook_policy())
        runtime: Runtime
        rulesets = RuleSets(
            engine,
            metrics=metrics,
            redis=services.client,
            on_swap=lambda loaded: runtime.seed(loaded),
            limits=CompileLimits(timeout_s=settings.compile_timeout_s, memory_mb=settings.compile_memory_mb),
        )
        observer = Observer(
            client=services.client,
            guard=guard,
            keys=services.keys,
            record=settings.record_events,
            max_events=settings.record_max_events,
        )
        keystore = KeyStore(services.client)
        audit = AuditTrail(services.client, retention_s=settings.audit_retention_days * 86400)
        runtime = cls(settings, keys, metrics, guard, services, rulesets, observer, keystore, audit)
        try:
            await rulesets.start()
            if settings.watch_rules:
                runtime.watcher = RulesWatcher(
                    rulesets, settings.rules_path, on_change=lambda old, new: record_watched(runtime, old, new)
                )
                await runtime.watcher.start()
        except BaseException:
            await runtime.close()
            raise
        runtime._tasks.append(asyncio.create_task(runtime._maintain()))
        runtime._tasks.append(asyncio.create_task(observer.run(settings.rules_poll_s)))
        if runtime.watcher is not None:
            runtime._tasks.append(asyncio.create_task(runtime.watcher.run(settings.rules_poll_s)))
        return runtime

    async def close(self) -> None:
        await _stop(self._tasks)
        await self.services.close()
        self.rulesets.engine.close()

    async def seed(self, loaded: LoadedRuleSet) -> None:
        """Write the pack's seed list entries into every configured tenant's live lists."""
        entries = loaded.ruleset.seed_lists
        try:
            for tenant in sorted(self.keys.tenants):
                await self.guard.call(
                    "seed_lists",
                    self.services.seed_lists(tenant=tenant, entries=entries, author=f"seed:{loaded.ruleset.version}"),
                )
            self.seeded_version = loaded.ruleset.version
        except Exception as err:  # Redis down at start-up: _maintain retries
            log.warning("seed lists of %s not written yet: %s", loaded.ruleset.version, err)

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
                current = self.rulesets.current
                if self.seeded_version != current.ruleset.version:
                    await self.seed(current)
                await self.services.expire_holds(self.keys.tenants)
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
