"""Offers and events as the compiler and the storefront would build them; Redis comes from tests/conftest.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from engine.diagnostics import Location
from engine.events import Event
from engine.model import Budget, Decision, Effect, EffectType, Hold, Offer


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
        id=offer_id,
        label=offer_id,
        tiers=frozenset({"occasional"}),
        on=frozenset(),
        condition=None,
        effect=Effect(EffectType.GIFT, 50, "赠送精修照片2张"),
        priority=priority,
        exclusive_group=group,
        window=None,
        budget=Budget(total, per_customer, per_day),
        withhold_on=frozenset({Decision.REVIEW, Decision.DENY}),
        hold=Hold("order_paid", hold_days) if hold_days is not None else None,
        beneficiary=beneficiary,
        location=Location("rules/offers.yaml", 1, 1),
    )


def make_event(type: str, customer: str, at: datetime, **fields: Any) -> Event:
    return Event(
        event_id=fields.pop("event_id", uuid.uuid4().hex), type=type, customer=customer, timestamp=at, **fields
    )


@pytest.fixture
def offer() -> Callable[..., Offer]:
    return make_offer


@pytest.fixture
def event() -> Callable[..., Event]:
    return make_event
