"""``GET /v1/reports/offers`` and ``/v1/reports/experiments``: budgets and A/B results as JSON.

Privileges (non-monetary effects) are counted and reported exactly like discounts:
each offer's counters say how many were granted, held, reserved, committed or given back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from api.deps import ReaderCaller, RuntimeDep
from api.reports.schemas import ExperimentsReport, OffersReport

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/offers", response_model=OffersReport, summary="Every offer's budget counters (discounts and privileges alike)"
)
async def offers_report(runtime: RuntimeDep, caller: ReaderCaller) -> dict[str, Any]:
    loaded = runtime.rulesets.of(caller.tenant)
    offers = loaded.ruleset.offers
    now = datetime.now(UTC)
    states = await runtime.guard.call(
        "reports",
        runtime.services.ledger.budgets(tenant=caller.tenant, offers=offers, zone=loaded.evaluator.zone, now=now),
    )
    rows: list[dict[str, Any]] = []
    for offer in offers:
        state = states[offer.id]
        rows.append(
            {
                "offer": offer.id,
                "label": offer.label,
                "effect": {"type": offer.effect.type.value, "value": offer.effect.value},
                "group": offer.exclusive_group,
                "total": state.total,
                "remaining": state.remaining,
                "used": state.used,
                "today": state.today,
                "week": state.week,
                "month": state.month,
                "granted": state.granted,
                "held": state.held,
                "released": state.released,
                "voided": state.voided,
                "expired": state.expired,
                "reserved": state.reserved,
                "committed": state.committed,
                "cancelled": state.cancelled,
                "refunded": state.refunded,
                "lapsed": state.lapsed,
            }
        )
    by_type: dict[str, int] = {}
    for offer in offers:
        by_type[offer.effect.type.value] = by_type.get(offer.effect.type.value, 0) + states[offer.id].used
    return {"ruleset_version": loaded.ruleset.version, "offers": rows, "used_by_effect_type": by_type}


@router.get(
    "/experiments",
    response_model=ExperimentsReport,
    summary="A/B experiments on offers: grants and conversions per variant",
)
async def experiments_report(runtime: RuntimeDep, caller: ReaderCaller) -> dict[str, Any]:
    loaded = runtime.rulesets.of(caller.tenant)
    book = runtime.services.ledger.experiments
    experiments = []
    for offer in loaded.ruleset.offers:
        if offer.experiment is None:
            continue
        results = await runtime.guard.call("reports", book.results(tenant=caller.tenant, experiment=offer.experiment))
        experiments.append(
            {
                "experiment": offer.experiment.id,
                "offer": offer.id,
                "variants": [
                    {
                        "variant": r.variant,
                        "weight": r.weight,
                        "effect": r.effect,
                        "grants": r.grants,
                        "customers": r.customers,
                        "conversions": r.conversions,
                        "conversion_rate": r.conversion_rate,
                        "revenue": r.revenue,
                    }
                    for r in results
                ],
            }
        )
    return {"ruleset_version": loaded.ruleset.version, "experiments": experiments}
