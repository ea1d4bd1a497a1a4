"""``POST /v1/contacts``: apply the pack's contact caps and quiet hours; record allowed contacts."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from api.contacts.schemas import ContactRequest, ContactResponse
from api.customers.service import customer_tier
from api.deps import ContactCaller, RuntimeDep
from api.errors import InvalidRequest
from engine.model import CompiledRuleSet

router = APIRouter(prefix="/v1", tags=["contacts"])


@router.post(
    "/contacts", response_model=ContactResponse, summary="May staff message this customer on this channel now?"
)
async def request_contact(body: ContactRequest, runtime: RuntimeDep, caller: ContactCaller) -> ContactResponse:
    loaded = runtime.rulesets.of(caller.tenant)
    ruleset = loaded.ruleset
    if body.tier is not None and body.tier not in {t.id for t in ruleset.tiers}:
        raise InvalidRequest(
            f"tier: unknown tier {body.tier!r}",
            extra={"fields": [{"field": "tier", "message": f"one of {[t.id for t in ruleset.tiers]}"}]},
        )
    tier = body.tier or (await customer_tier(runtime, caller.tenant, body.customer))[0]
    at = body.at or datetime.now(UTC)
    answer = await runtime.guard.call(
        "contacts",
        runtime.services.gate.request(
            tenant=caller.tenant,
            customer=body.customer,
            channel=body.channel,
            tier=tier,
            at=at,
            policy=ruleset.contacts,
            zone=loaded.evaluator.zone,
        ),
    )
    runtime.metrics.contacts.labels(
        _channel_label(body.channel, ruleset), "allowed" if answer.allowed else "refused"
    ).inc()
    return ContactResponse(
        allowed=answer.allowed,
        customer=body.customer,
        channel=body.channel,
        tier=tier,
        reason=answer.reason,
        next_allowed_at=answer.next_allowed_at,
    )


def _channel_label(channel: str, ruleset: CompiledRuleSet) -> str:
    """The channel as a metric label: a channel the pack caps, else ``other`` (bounded)."""
    capped = {cap.channel for cap in ruleset.contacts.caps}
    return channel if channel in capped else "other"
