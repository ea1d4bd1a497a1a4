"""A/B experiments on offers: grants and conversions per variant, in Redis.

Assignment is a pure function of (experiment id, customer) (``Experiment.assign``),
so it is sticky across requests, workers and reloads and needs no storage. What is
stored is the outcome, in the experiment's own slot ``{<tenant>:exp:<id>}``:

- ``stats``     hash ``<variant>:grants | :customers | :conversions | :revenue``
- ``assigned``  hash customer -> variant, for customers granted the offer
- ``converted`` set of customers whose first paid order after a grant was counted

A conversion is a customer's first ``order_paid`` after they were granted the
experiment's offer, counted once per customer (a retried or second order adds nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.datastore.batches import Command, ScriptCall, run_batch, text
from engine.datastore.keys import PREFIX, safe_id
from engine.events import Event, is_payment
from engine.model import Experiment, Offer
from engine.offers.results import Grant

#: KEYS: stats, assigned. ARGV: variant, customer.
GRANTED = """
redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':grants', 1)
if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':customers', 1)
end
return 1
"""

#: KEYS: stats, assigned, converted. ARGV: customer, amount. Returns the variant or ''.
CONVERTED = """
local variant = redis.call('HGET', KEYS[2], ARGV[1])
if not variant then return '' end
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return '' end
redis.call('HINCRBY', KEYS[1], variant .. ':conversions', 1)
redis.call('HINCRBYFLOAT', KEYS[1], variant .. ':revenue', ARGV[2])
return variant
"""


@dataclass(frozen=True, slots=True)
class VariantResult:
    variant: str
    weight: int
    effect: dict[str, Any]
    grants: int
    customers: int
    conversions: int
    revenue: float

    @property
    def conversion_rate(self) -> float | None:
        return round(self.conversions / self.customers, 4) if self.customers else None


def _keys(tenant: str, experiment_id: str) -> tuple[str, str, str]:
    base = f"{PREFIX}:{{{safe_id(tenant)}:exp:{safe_id(experiment_id)}}}"
    return f"{base}:stats", f"{base}:assigned", f"{base}:converted"


class ExperimentBook:
    """Counts grants and conversions of every experiment variant."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._granted = client.register_script(GRANTED)
        self._converted = client.register_script(CONVERTED)

    def grant_calls(self, tenant: str, grants: Sequence[Grant], offers: dict[str, Offer]) -> list[ScriptCall]:
        """Calls counting the fresh grants of experiment offers (a retried event counts nothing)."""
        calls: list[ScriptCall] = []
        for grant in grants:
            offer = offers.get(grant.offer_id)
            if offer is None or offer.experiment is None or not grant.granted or not grant.fresh:
                continue
            if grant.beneficiary_id is None:
                continue
            variant = offer.experiment.assign(grant.beneficiary_id)
            stats, assigned, _ = _keys(tenant, offer.experiment.id)
            calls.append((self._granted, [stats, assigned], [variant.id, grant.beneficiary_id]))
        return calls

    async def on_outcome(self, *, tenant: str, event: Event, experiments: Sequence[Experiment]) -> list[str]:
        """Count a paid order as a conversion of each experiment the customer was granted in.

        An order of less than a fen (a 0元 checkout) paid nothing and converts nobody (``is_payment``).
        """
        if not is_payment(event) or not experiments:
            return []
        calls: list[ScriptCall | Command] = []
        for experiment in experiments:
            calls.append((self._converted, list(_keys(tenant, experiment.id)), [event.customer, event.amount or 0]))
        replies = await run_batch(self.client, calls)
        return [f"{e.id}:{text(r)}" for e, r in zip(experiments, replies, strict=True) if text(r)]

    async def results(self, *, tenant: str, experiment: Experiment) -> list[VariantResult]:
        stats = (await run_batch(self.client, [("HGETALL", _keys(tenant, experiment.id)[0])]))[0]
        values = _as_dict(stats)
        results = []
        for variant in experiment.variants:
            effect = variant.effect
            results.append(
                VariantResult(
                    variant=variant.id,
                    weight=variant.weight,
                    effect={"type": effect.type.value, "value": effect.value, "description": effect.description},
                    grants=int(values.get(f"{variant.id}:grants", 0)),
                    customers=int(values.get(f"{variant.id}:customers", 0)),
                    conversions=int(values.get(f"{variant.id}:conversions", 0)),
                    revenue=round(float(values.get(f"{variant.id}:revenue", 0)), 2),
                )
            )
        return results


def _as_dict(reply: Any) -> dict[str, str]:
    if isinstance(reply, dict):
        return {text(k): text(v) for k, v in reply.items()}
    return {text(k): text(v) for k, v in zip(reply[::2], reply[1::2], strict=True)}
