"""Optional parts of a ``/v1/score`` answer, asked for in the query string.

Kept out of the event body (the engine's ``Event`` forbids unknown fields, and a
retried request must carry the same event): ``?explain=true`` and
``?contact=<channel>[&contact_record=true]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.runtime import Runtime
from api.scoring.extras import contact_allowance, explain
from engine.evaluation import Evaluation
from engine.events import Event
from engine.offers.results import Grant
from engine.rule_engine import LoadedRuleSet


class ScoreOptions(BaseModel):
    """The query string of ``/v1/score`` (unknown parameters are ignored, as FastAPI does)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    explain: bool = Field(False, description="list every offer: applied, or why not")
    contact: str | None = Field(
        None, pattern=r"^[a-z0-9_]{1,64}$", description="also answer: may staff contact them on it now?"
    )
    contact_record: bool = Field(False, description="record the contact when allowed")

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ScoreOptions | None:
        """The options asked for, or None when the answer is the plain one; 422 naming a bad parameter."""
        if not query:
            return None
        try:
            options = cls.model_validate(dict(query))
        except ValidationError as err:
            raise RequestValidationError(
                [{**e, "loc": ("query", *e["loc"])} for e in err.errors(include_url=False)]
            ) from None
        return options if options.explain or options.contact else None

    @classmethod
    def openapi_parameters(cls) -> list[dict[str, Any]]:
        """The query parameters as OpenAPI declares them (the route parses them itself)."""
        properties = cls.model_json_schema()["properties"]
        return [
            {"name": name, "in": "query", "required": False, "description": schema.pop("description", ""),
             "schema": schema}
            for name, schema in properties.items()
        ]  # fmt: skip

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
