"""``yutang worker``'s part of the review queue: cases past their deadline, decisions left unfinished.

Each tenant's due cases are timed out by the pack's ``review.on_timeout`` through the
same DECIDE script a reviewer's decision goes through, so a timeout and a person racing
decide once, and any number of workers may run: a case leaves ``due`` in the step that
decides it. The worker builds a :class:`Runtime` on its own services (no background
tasks), so a timeout's actions are the very ones a reviewer's decision runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from api.auth import ApiKeys
from api.cases.service import resolve_due
from api.metrics import Metrics
from api.redis_guard import RedisGuard
from api.rulesets import RuleSets
from api.runtime import Runtime
from api.services import Services
from api.settings import Settings

log = logging.getLogger("yutang.worker")


def worker_runtime(settings: Settings, services: Services, rulesets: RuleSets, metrics: Metrics) -> Runtime:
    """A runtime for the worker: the worker's Redis services and rule sets, nothing started."""
    guard = RedisGuard(metrics=metrics, timeout_s=max(settings.redis_timeout_s, 5.0), breaker_s=settings.breaker_s)
    keys = ApiKeys.load(settings.api_keys, settings.api_keys_file, data_dir=settings.data_dir)
    return Runtime.assemble(settings, keys, metrics, guard, services, rulesets)


async def resolve_all(runtime: Runtime, tenants: Iterable[str]) -> int:
    """One pass over every tenant; a failing tenant is logged and the others go on."""
    resolved = 0
    for tenant in sorted(set(tenants)):
        try:
            resolved += await resolve_due(runtime, tenant)
        except Exception as err:  # Redis down, a reload mid-pass: the next pass retries
            log.warning("case timeouts of %s failed: %s", tenant, err)
    return resolved


async def run_forever(runtime: Runtime, *, poll_s: float) -> None:
    """Every ``poll_s``: one pass over every known tenant (created ones included, asked each pass)."""
    while True:
        await resolve_all(runtime, await runtime.known_tenants())
        await asyncio.sleep(poll_s)
