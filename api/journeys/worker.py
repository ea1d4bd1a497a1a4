"""``yutang worker``: fire journey timeouts, red-packet tests, webhook deliveries and review-case timeouts.

Built on the same settings, Redis client and PII secret as ``yutang serve`` (so it
reads the features the API wrote), with its own copy of the rule set that follows
reloads published by the API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from api.cases.timeouts import run_forever as run_case_timeouts
from api.cases.timeouts import worker_runtime
from api.metrics import Metrics
from api.rulesets import RuleSets
from api.services import Services, open_services
from api.settings import Settings
from engine.egress.transport import Egress
from engine.journeys.actions import Parts
from engine.journeys.community import Community
from engine.journeys.due import DueQueue
from engine.journeys.runner import JourneyRunner
from engine.journeys.webhooks import Outbox
from engine.journeys.worker import Worker
from engine.logs import configure as configure_logs
from engine.rule_engine import RuleEngine
from engine.scheduler.run import run_offers


def build_worker(services: Services, rulesets: Any, egress: Egress, *, lease_s: float = 60.0) -> Worker:
    """A worker on ``services``' Redis client; each item runs on its tenant's set; webhooks post via ``egress``."""
    queue = DueQueue(services.client, lease_s=lease_s)
    outbox = Outbox(services.client, queue)
    parts = Parts(services.client, services.ledger, services.gate, outbox)
    return Worker(
        client=services.client,
        queue=queue,
        runner=JourneyRunner(parts=parts, store=services.store, queue=queue),
        outbox=outbox,
        community=Community(parts=parts, queue=queue),
        ruleset=rulesets.of,
        egress=egress,
    )


async def run(settings: Settings, *, poll_s: float) -> None:
    services = await open_services(settings)
    engine = RuleEngine(settings.rules_path, backend=settings.backend, webhook_policy=settings.webhook_policy())

    async def no_seed(_: str, __: Any) -> None:
        return None

    rulesets = RuleSets(
        engine,
        metrics=Metrics(),
        redis=services.client,
        on_swap=no_seed,
        webhook_policy=settings.webhook_policy(),
        tenant_backend=settings.tenant_backend,
    )
    runtime = worker_runtime(settings, services, rulesets, Metrics())
    # every pass goes over the configured tenants and those created through the API since
    await rulesets.start(await runtime.known_tenants())
    follower = asyncio.create_task(rulesets.follow(settings.rules_poll_s))
    offers = asyncio.create_task(run_offers(services.client, tenants=runtime.known_tenants, idle_s=poll_s))
    cases = asyncio.create_task(run_case_timeouts(runtime, poll_s=poll_s))  # review SLA timeouts
    try:
        async with Egress(settings.webhook_policy()) as egress:
            await build_worker(services, rulesets, egress).run_forever(poll_s=poll_s)
    finally:
        follower.cancel()
        offers.cancel()
        cases.cancel()
        await services.close()
        engine.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between passes over the due items")


def main(args: argparse.Namespace) -> int:
    configure_logs()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(Settings.from_env(), poll_s=args.poll))
    return 0
