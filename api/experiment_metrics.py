"""Prometheus series per A/B variant: the live view of ``GET /v1/reports/experiments``.

Counted where the API records grants (``/v1/score``, fresh answers only: a replay
returns before counting) and conversions (``/v1/events`` order_paid, once per
customer and experiment as the ledger's script decides). Labels are offer,
experiment and variant ids from the pack: never a customer id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from api.metrics import Metrics
from engine.rule_engine import LoadedRuleSet


def count_experiment_grants(metrics: Metrics, loaded: LoadedRuleSet, offers: Iterable[dict[str, Any]]) -> None:
    """One grant per granted offer of the response that carries an experiment variant."""
    variants = [granted for granted in offers if granted.get("variant") is not None]
    if not variants:  # nearly every answer: no index of the pack's offers built for it
        return
    by_id = {o.id: o for o in loaded.ruleset.offers}
    for granted in variants:
        offer = by_id.get(granted["offer"])
        variant = granted.get("variant")
        if offer is None or offer.experiment is None or variant is None:
            continue
        metrics.experiment_grant_count(offer.id, offer.experiment.id, variant).inc()


def count_experiment_conversions(metrics: Metrics, loaded: LoadedRuleSet, converted: Iterable[str]) -> None:
    """``converted`` holds the ledger's ``'<experiment>:<variant>'`` conversions of one paid order."""
    offers = {o.experiment.id: o.id for o in loaded.ruleset.offers if o.experiment is not None}
    for item in converted:
        experiment, _, variant = item.rpartition(":")
        offer = offers.get(experiment)
        if offer is not None:
            metrics.experiment_conversions.labels(offer, experiment, variant).inc()
