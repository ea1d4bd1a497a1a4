"""Timeouts processed per second by one ``yutang worker`` and by two, on the embedded Redis.

N customers buy the 99 trial (state and due items written through the runner, as the
API does); the clock jumps past 3 days and the workers drain the reminders (the
shipped ladder's ``trial_no_visit``: a contact through the caps and a tag each).
Last line: JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.backends import BackendKind  # noqa: E402
from engine.contacts.gate import ContactGate  # noqa: E402
from engine.datastore.embedded import EmbeddedRedis, free_port  # noqa: E402
from engine.egress.policy import WebhookPolicy  # noqa: E402
from engine.egress.transport import Egress  # noqa: E402
from engine.events import Event  # noqa: E402
from engine.features.store import FeatureStore  # noqa: E402
from engine.journeys.actions import Parts  # noqa: E402
from engine.journeys.community import Community  # noqa: E402
from engine.journeys.due import DueQueue  # noqa: E402
from engine.journeys.runner import JourneyRunner  # noqa: E402
from engine.journeys.webhooks import Outbox  # noqa: E402
from engine.journeys.worker import Worker  # noqa: E402
from engine.offers.ledger import OfferLedger  # noqa: E402
from engine.pack.loader import read_pack_files  # noqa: E402
from engine.rule_engine import prepare  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def worker_on(client: Any, loaded: Any, egress: Egress) -> Worker:
    queue = DueQueue(client)
    outbox = Outbox(client, queue)
    parts = Parts(client, OfferLedger(client), ContactGate(client), outbox)
    store = FeatureStore(client, secret=b"bench-secret-0123456789")
    runner = JourneyRunner(parts=parts, store=store, queue=queue)
    community = Community(parts=parts, queue=queue)
    return Worker(
        client=client,
        queue=queue,
        runner=runner,
        outbox=outbox,
        community=community,
        ruleset=lambda: loaded,
        egress=egress,
    )


async def round_(url: str, loaded: Any, tenant: str, workers: int) -> float:
    clients = [Redis.from_url(url) for _ in range(workers)]
    async with Egress(WebhookPolicy()) as egress:
        fleet = [worker_on(c, loaded, egress) for c in clients]
        feeder = fleet[0].runner
        for i in range(N):
            event = Event(event_id=f"{tenant}-{i}", type="order_paid", customer=f"m{i}", amount=99, timestamp=START)
            await feeder.on_event(tenant=tenant, loaded=loaded, event=event)
        now = (START + timedelta(days=3, hours=1)).timestamp()
        began = time.perf_counter()
        counts = await asyncio.gather(*(w.run_once(now=now) for w in fleet))
        elapsed = time.perf_counter() - began
    fired = sum(c["timeout_fired"] for c in counts)
    assert fired == N, counts
    for c in clients:
        await c.aclose()
    return N / elapsed


async def main() -> None:
    loaded = prepare(read_pack_files(ROOT / "rules"), BackendKind.PYTHON)
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp), port=free_port())
        server.start()
        try:
            one = await round_(server.url, loaded, "bench1", 1)
            two = await round_(server.url, loaded, "bench2", 2)
        finally:
            server.stop()
    print(f"{N} trial reminders: one worker {one:.0f}/s, two workers {two:.0f}/s")
    print(
        json.dumps(
            {"bench": "journeys", "timeouts": N, "one_worker_per_s": round(one), "two_workers_per_s": round(two)}
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
