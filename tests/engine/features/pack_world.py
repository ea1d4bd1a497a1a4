"""One tenant's feature store and a compiled pack (the shipped one by default): send events, get its evaluations.

Scored events go through ``FeatureStore.record_and_read`` and the pack decides, as replay and the
API do; outcomes go through ``record_outcome``. The tests of what the shipped pack makes of a
story (a counter tablet, a 刷单 ring, a blogger's burst) subclass ``World`` with the story's verbs
(``invite``, ``pays``, ``comes``...).
"""

from __future__ import annotations

import functools
from pathlib import Path

from redis.asyncio import Redis

from engine.backends import BackendKind
from engine.evaluation import Evaluation
from engine.events import OUTCOME_TYPES, Event
from engine.features.store import FeatureStore
from engine.pack.loader import read_pack_files
from engine.rule_engine import LoadedRuleSet, prepare

RULES = Path(__file__).parents[3] / "rules"
SECRET = b"test-secret-0123456789abcdef"


def shipped_files() -> dict[str, str]:
    """The shipped pack's files (a fresh dict: a test may edit it before compiling)."""
    return read_pack_files(RULES)


@functools.cache
def shipped() -> LoadedRuleSet:
    """The shipped pack, compiled once per test session (a second each)."""
    return prepare(shipped_files(), BackendKind.PYTHON)


class World:
    """One tenant's store and one pack: send events, get the pack's evaluations."""

    def __init__(self, client: Redis, tenant: str, loaded: LoadedRuleSet | None = None) -> None:
        self.store = FeatureStore(client, secret=SECRET)
        self.tenant = tenant
        self.loaded = loaded if loaded is not None else shipped()
        self.sent = 0
        self.values: dict[str, int | float | bool | None] = {}  # the feature values of the last scored event

    def fields(self, fields: dict[str, object]) -> dict[str, object]:
        """The event's fields as sent (a story's world fills in its defaults here)."""
        return fields

    async def send(self, **fields: object) -> Evaluation | None:
        """Record the event; a scored one's evaluation (its feature values in ``values``), None for an outcome."""
        self.sent += 1
        event = Event.model_validate({"event_id": f"e{self.sent}", **self.fields(fields)})
        specs = self.loaded.ruleset.record_plan[event.type]
        if event.type in OUTCOME_TYPES:
            await self.store.record_outcome(tenant=self.tenant, event=event, specs=specs)
            return None
        snapshot = await self.store.record_and_read(tenant=self.tenant, event=event, specs=specs)
        self.values = snapshot.values
        return self.loaded.evaluate(event, snapshot.values)
