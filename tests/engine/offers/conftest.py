"""Real Redis for these tests: see local_redis.py (until the shared fixtures land)."""
from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.diagnostics import Location
from engine.events import Event
from engine.model import Budget, Decision, Effect, EffectType, Hold, Offer

_spec = importlib.util.spec_from_file_location("yt_local_redis", Path(__file__).with_name("local_redis.py"))
assert _spec and _spec.loader
_local = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_local)

redis_server = _local.redis_server
redis_client = _local.redis_client
cluster_nodes = _local.cluster_nodes
redis_cluster = _local.redis_cluster


def make_offer(
    offer_id: str,
    *,
    total: int | None = None,
    per_customer: int | None = None,
    per_day: int | None = None,
    group: str | None = None,
    priority: int = 0,
    hold_days: int | None = None,
    beneficiary: str = "customer",
) -> Offer:
    """An offer as the compiler would build it from offers.yaml."""
    return Offer(
        id=offer_id, label=offer_id, tiers=frozenset({"occasional"}), on=frozenset(), condition=None,
        effect=Effect(EffectType.GIFT, 50, "赠送精修照片2张"), priority=priority,
        exclusive_group=group, window=None, budget=Budget(total, per_customer, per_day),
        withhold_on=frozenset({Decision.REVIEW, Decision.DENY}),
        hold=Hold("order_paid", hold_days) if hold_days is not None else None,
        beneficiary=beneficiary, location=Location("rules/offers.yaml", 1, 1),
    )


def make_event(type: str, customer: str, at: datetime, **fields: Any) -> Event:
    return Event(event_id=fields.pop("event_id", uuid.uuid4().hex), type=type, customer=customer,
                 timestamp=at, **fields)


@pytest.fixture
def tenant() -> str:
    """A fresh merchant per test: tests never see each other's counters."""
    return "m" + uuid.uuid4().hex[:10]


@pytest.fixture
def offer() -> Callable[..., Offer]:
    return make_offer


@pytest.fixture
def event() -> Callable[..., Event]:
    return make_event
