"""Offers that cannot be overspent: budgets, per-customer and per-day caps, held rewards.

``OfferLedger`` is what the scoring API calls once per scored event (``grant``) and
once per outcome event (``on_outcome``); docs/offers.md explains the Redis layout.
"""

from engine.offers.ledger import OfferLedger, hold_id, rank_groups, split_hold_id
from engine.offers.results import BudgetState, CustomerGrant, Grant, GrantStatus, HoldChange

__all__ = [
    "BudgetState",
    "CustomerGrant",
    "Grant",
    "GrantStatus",
    "HoldChange",
    "OfferLedger",
    "hold_id",
    "rank_groups",
    "split_hold_id",
]
