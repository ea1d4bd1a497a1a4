"""Merchant webhooks: enqueued on the request path, delivered by ``yutang worker``.

Scoring never waits for a merchant's server: an action only schedules a due item.
The worker POSTs the JSON body in the Standard Webhooks format
(https://www.standardwebhooks.com: ``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``), so a
receiver verifies it with that specification's libraries in any language instead of
code written for yutang. It retries a failure after ``backoff``, doubling each time, up
to ``attempts`` tries, and records every attempt (``GET /v1/webhooks/deliveries``).
``webhook-id`` is the same on every attempt of one delivery, so a receiver can drop a
duplicate; ``X-Yutang-Attempt`` says which attempt this is.

The secret is the specification's ``whsec_<base64>`` form (``echo whsec_$(openssl rand
-base64 32)`` makes one); any other value is used as raw bytes, for secrets set before
this format.

The URL and ``secret_env`` come from a rule pack, which the operator does not vet line
by line: a delivery posts only through ``Egress`` (the tenant's allow-list, checked on
the resolved addresses as the socket opens, no proxy, no redirects) and signs only with
a variable under the operator's secret prefix. A refused delivery is recorded as
``refused`` and not retried: nothing but a change of settings would let it through.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook as StandardWebhook

from engine.datastore.batches import run_batch, text
from engine.datastore.keys import safe_id
from engine.egress.transport import Egress, EgressRefused
from engine.journeys.due import DueItem, DueQueue
from engine.journeys.model import Webhook

LOG_KEEP = 1000
log = logging.getLogger("yutang.webhooks")


SECRET_PREFIX = "whsec_"


def secret_bytes(secret: str) -> bytes:
    """The signing key: a ``whsec_`` secret's decoded bytes, else the text itself (an older secret)."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error:
            pass
    return secret.encode()


def signed_headers(secret: str, delivery: str, body: bytes, *, now: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt of ``delivery``."""
    moment = now or datetime.now(UTC)
    signature = StandardWebhook(secret_bytes(secret)).sign(delivery, moment, body.decode())
    return {
        "webhook-id": delivery,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }


def log_key(tenant: str) -> str:
    return f"yt:{{{safe_id(tenant)}:wh}}:log"


class Outbox:
    """Enqueue deliveries; deliver one attempt; read the delivery log."""

    def __init__(self, client: Any, queue: DueQueue) -> None:
        self.client = client
        self.queue = queue

    async def enqueue(self, *, tenant: str, hook: Webhook, delivery: str, body: dict[str, Any], at: float) -> None:
        payload = {"kind": "webhook", "hook": hook.name, "delivery": delivery, "attempt": 1, "body": body}
        await self.queue.schedule(tenant=tenant, item_id=f"wh|{delivery}|1", due_at=at, payload=payload)
        await run_batch(self.client, [("SADD", "yt:due:tenants", tenant)])

    async def deliver(self, item: DueItem, hook: Webhook | None, *, now: float, egress: Egress) -> str:
        """One attempt: ``delivered``, ``retry`` (scheduled again), ``failed`` (gave up) or ``refused`` (policy)."""
        payload = item.payload
        attempt = int(payload["attempt"])
        body = json.dumps(payload["body"], ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
        status, detail = await self._post(item.tenant, hook, body, payload["delivery"], attempt, egress)
        if status == "failed" and hook is not None and attempt < hook.attempts:
            status = "retry"
            delay = hook.backoff_seconds * 2 ** (attempt - 1)
            retry = {**payload, "attempt": attempt + 1}
            await self.queue.schedule(
                tenant=item.tenant, item_id=f"wh|{payload['delivery']}|{attempt + 1}", due_at=now + delay, payload=retry
            )
        record = {
            "delivery": payload["delivery"],
            "webhook": payload["hook"],
            "attempt": attempt,
            "status": status,
            "detail": detail,
            "at": now,
            "event": payload["body"].get("event"),
        }
        if status != "delivered":  # the delivery log has every attempt; the process log, what needs a look
            log.warning(
                "webhook %s delivery %s attempt %d %s: %s",
                payload["hook"], payload["delivery"], attempt, status, detail, extra={"tenant": item.tenant},
            )  # fmt: skip
        key = log_key(item.tenant)
        entry = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        await run_batch(self.client, [("LPUSH", key, entry), ("LTRIM", key, 0, LOG_KEEP - 1)])
        return status

    async def _post(
        self, tenant: str, hook: Webhook | None, body: bytes, delivery: str, attempt: int, egress: Egress
    ) -> tuple[str, str]:
        if hook is None:
            return "failed", "webhook no longer in the rule pack"
        refusal = egress.policy.secret_refusal(hook.secret_env)
        if refusal is not None:
            return "refused", refusal
        secret = os.environ.get(hook.secret_env)
        if not secret:
            return "failed", f"secret {hook.secret_env} is not set"
        headers = {
            "Content-Type": "application/json",
            "X-Yutang-Attempt": str(attempt),
            **signed_headers(secret, delivery, body),
        }
        try:
            response = await egress.client(tenant).post(
                hook.url, content=body, headers=headers, timeout=hook.timeout_seconds
            )
        except httpx.HTTPError as err:
            if isinstance(err.__cause__, EgressRefused):
                return "refused", str(err.__cause__)[:300]
            return "failed", f"{type(err).__name__}: {err}"[:200]
        if response.is_redirect:
            return "failed", f"HTTP {response.status_code} (redirects are not followed)"
        return ("delivered" if response.is_success else "failed"), f"HTTP {response.status_code}"

    async def deliveries(self, *, tenant: str, limit: int = 100) -> list[dict[str, Any]]:
        rows = (await run_batch(self.client, [("LRANGE", log_key(tenant), 0, limit - 1)]))[0]
        return [json.loads(text(r)) for r in rows]
