"""Optional parts of a ``/v1/score`` answer, asked for in the query string.

Kept out of the event body (the engine's ``Event`` forbids unknown fields, and a
retried request must carry the same event): ``?explain=true`` and
``?contact=<channel>[&contact_record=true]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.runtime import Runtime
from api.scoring.extras import contact_allowance, explain
from engine.evaluation import Evaluation
from engine.events import Event
from engine.offers.results import Grant
from engine.rule_engine import LoadedRuleSet


@dataclass(frozen=True, slots=True)
class ScoreOptions:
    explain: bool = False
    contact: str | None = None
    contact_record: bool = False

    async def apply(
        self,
        runtime: Runtime,
        tenant: str,
        event: Event,
        loaded: LoadedRuleSet,
        evaluation: Evaluation,
        grants: Sequence[Grant],
        body: dict[str, Any],
    ) -> None:
        """Add ``explain`` and ``contact`` to the answer (remembered with it for retries)."""
        if self.explain:
            body["explain"] = await explain(runtime, tenant, event, loaded, evaluation, grants)
        if self.contact:
            body["contact"] = await contact_allowance(
                runtime, tenant, event, loaded, evaluation.tier, self.contact, self.contact_record
            )
