"""The outbox enforces the policy at delivery even for a hook no compile checked (an older kept set, a replay).

A refused delivery is recorded as ``refused`` with the reason and never retried; the
receiver gets nothing, and a refused secret is never read from the environment.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from engine.egress.policy import WebhookPolicy
from engine.egress.transport import Egress
from engine.journeys.due import DueItem, DueQueue
from engine.journeys.model import Webhook
from engine.journeys.webhooks import Outbox
from tests.engine.egress.local_receiver import Receiver, receiver_at


def item(tenant: str) -> DueItem:
    payload = {"kind": "webhook", "hook": "crm", "delivery": "d1", "attempt": 1, "body": {"event": "journey.moved"}}
    return DueItem(tenant, "wh|d1|1", payload)


async def deliver(redis_client: Any, tenant: str, hook: Webhook, policy: WebhookPolicy) -> tuple[str, dict[str, Any]]:
    outbox = Outbox(redis_client, DueQueue(redis_client))
    async with Egress(policy) as egress:
        status = await outbox.deliver(item(tenant), hook, now=time.time(), egress=egress)
    log = await outbox.deliveries(tenant=tenant)
    assert await DueQueue(redis_client).size(tenant=tenant) == (0, 0), "nothing scheduled again"
    return status, log[0]


async def test_a_secret_outside_the_prefix_is_never_read_nor_used(
    redis_client: Any, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUTANG_API_KEYS", "key-the-attacker-wants:t:admin")
    receiver = Receiver()
    with receiver_at(receiver) as port:
        hook = Webhook("crm", f"http://127.0.0.1:{port}/hooks", "YUTANG_API_KEYS", 6, 30, 5)
        status, record = await deliver(redis_client, tenant, hook, WebhookPolicy.parse(hosts="127.0.0.1"))
    assert (status, record["status"]) == ("refused", "refused")
    assert "must start with YUTANG_WEBHOOK_SECRET_" in record["detail"]
    assert receiver.requests == [] and receiver.connections == 0


async def test_localhost_is_refused_after_resolution_and_not_retried(
    redis_client: Any, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUTANG_WEBHOOK_SECRET_CRM", "s3cret")
    receiver = Receiver()
    with receiver_at(receiver) as port:
        hook = Webhook("crm", f"http://localhost:{port}/hooks", "YUTANG_WEBHOOK_SECRET_CRM", 6, 30, 5)
        status, record = await deliver(redis_client, tenant, hook, WebhookPolicy())
    assert status == "refused" and record["detail"].startswith("localhost resolves to 127.0.0.1")
    assert receiver.connections == 0


async def test_a_redirect_is_a_failed_attempt_and_its_target_gets_nothing(
    redis_client: Any, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUTANG_WEBHOOK_SECRET_CRM", "s3cret")
    inside, front = Receiver(), Receiver()
    with receiver_at(inside) as inside_port:
        front.status, front.location = 307, f"http://127.0.0.1:{inside_port}/v1/rules/reload"
        with receiver_at(front) as port:
            hook = Webhook("crm", f"http://127.0.0.1:{port}/hooks", "YUTANG_WEBHOOK_SECRET_CRM", 1, 30, 5)
            status, record = await deliver(redis_client, tenant, hook, WebhookPolicy.parse(hosts="127.0.0.1"))
    assert status == "failed" and record["detail"] == "HTTP 307 (redirects are not followed)"
    assert len(front.requests) == 1 and inside.requests == []
