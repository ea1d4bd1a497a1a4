"""Each timeout fires exactly once: several workers racing, and a worker killed mid-batch."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from journey_helpers import HOOK_SECRET, LOCAL_HOOKS, Receiver, crm_server, day, pack_with_hook, worker_for

from engine.journeys.due import DueQueue

KEY = "race-admin-key-012345678901"
CUSTOMERS = 60


async def _trials(api: Any) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    for i in range(CUSTOMERS):
        body = {"event_id": f"r{i}", "type": "order_paid", "customer": f"mum{i}", "amount": 99,
                "timestamp": day(1).isoformat()}  # fmt: skip
        assert (await api.post("/v1/events", json=body, headers=headers)).status_code == 200


async def _reminders(api: Any) -> Counter[str]:
    """Per customer, how many reminders were recorded (contacts through the gate, and the tag)."""
    counts: Counter[str] = Counter()
    for i in range(CUSTOMERS):
        view = (await api.get(f"/v1/customers/mum{i}", headers={"Authorization": f"Bearer {KEY}"})).json()
        counts[str(len([c for c in view["contacts"] if c["channel"] == "private_message"]))] += 1
    return counts


async def test_four_workers_racing_fire_each_reminder_once(make_api: Any, tenant: str, tmp_path: Any) -> None:
    async with make_api(rules_path=pack_with_hook(tmp_path, "http://127.0.0.1:9/x"),
                        api_keys=f"{KEY}:{tenant}:score+events+admin", webhook_hosts=LOCAL_HOOKS,
                        trust_event_time=True) as api:  # fmt: skip
        await _trials(api)
        async with worker_for(api) as w1, worker_for(api) as w2, worker_for(api) as w3, worker_for(api) as w4:
            for w in (w1, w2, w3, w4):
                w.batch = 5  # small batches: the workers interleave
            now = day(4, 12).timestamp()
            results = await asyncio.gather(*(w.run_once(now=now) for w in (w1, w2, w3, w4)))
        assert sum(results, Counter()) == Counter({"timeout_fired": CUSTOMERS})
        assert sum(1 for r in results if r) >= 2, "the work was shared"
        assert await _reminders(api) == Counter({"1": CUSTOMERS})


async def test_a_worker_killed_mid_batch_leaves_its_items_to_another(
    make_api: Any, tenant: str, tmp_path: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("YUTANG_WEBHOOK_SECRET_STUDIO_CRM", HOOK_SECRET)
    receiver = Receiver()
    with crm_server(receiver) as url:
        async with make_api(rules_path=pack_with_hook(tmp_path, url), webhook_hosts=LOCAL_HOOKS,
                            api_keys=f"{KEY}:{tenant}:score+events+admin", trust_event_time=True) as api:  # fmt: skip
            await _trials(api)
            async with worker_for(api, lease_s=30) as dying, worker_for(api, lease_s=30) as survivor:
                now = day(4, 12).timestamp()
                # the dying worker claims a batch, fires three of them (actions included) and is killed
                # before acknowledging anything: exactly the state SIGKILL leaves in Redis
                batch = await dying.queue.claim(tenant=tenant, now=now, limit=10)
                assert len(batch) == 10
                loaded = dying.ruleset(tenant)
                for item in batch[:3]:
                    assert (await dying.runner.fire(loaded=loaded, item=item, now=now))["status"] == "fired"
                # while its lease runs, the survivor takes only the other 50
                assert await survivor.run_once(now=now + 1) == Counter({"timeout_fired": CUSTOMERS - 10})
                # after the lease: the 10 again -- 3 finish without repeating, 7 fire for the first time
                assert await survivor.run_once(now=now + 31) == Counter({"timeout_fired": 10})
                assert await survivor.run_once(now=now + 3600) == Counter()
                assert await DueQueue(survivor.client).size(tenant=tenant) == (0, 0)
            assert await _reminders(api) == Counter({"1": CUSTOMERS})
