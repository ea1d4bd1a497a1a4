"""Prometheus metrics, correct with several uvicorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``yutang serve`` sets it for its workers)
prometheus-client writes every value to per-process files and ``/metrics`` sums
them; without it each app keeps its own registry. Labels are route templates,
rule / offer ids, decisions and modes: never a customer, device, ip or event id.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Generic, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from api.process_metrics import BuildInfo, WorkerProcesses
from engine.datastore.supervisor import read_state

#: Resolves 100 µs steps below a millisecond and still shows a stalled Redis.
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.00075,
    0.001,
    0.0015,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


M = TypeVar("M", bound=MetricWrapperBase)


class Bound(Generic[M]):
    """A metric's children by label values, each bound once per worker: one dict lookup per use after the first.

    ``labels()`` validates and stringifies its values and takes the metric's lock on
    every call (~2 µs; /v1/score made ten to twenty such calls per event). The children
    are the metric's own (``labels()`` returns the same object every time), so the
    series and their values are unchanged; label values stay the bounded sets they are
    (route templates, rule / offer ids, decisions), never a caller's id.
    """

    def __init__(self, metric: M) -> None:
        self.metric = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


class Metrics:
    """Every metric the service exports, registered on one registry per app."""

    def __init__(self, registry: CollectorRegistry | None = None, *, embedded_redis_state: Path | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.embedded_redis = EmbeddedRedisCollector(embedded_redis_state) if embedded_redis_state else None
        r = self.registry
        if self.embedded_redis is not None:
            r.register(self.embedded_redis)
        self.build_info = BuildInfo()
        r.register(self.build_info)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # one process: its own process_* metrics
            ProcessCollector(registry=r)
        self.requests = Counter(
            "yutang_http_requests_total",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "yutang_http_request_duration_seconds",
            "Whole-request latency by route template",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stage_seconds = Histogram(
            "yutang_stage_duration_seconds",
            "Latency of one stage of /v1/score: features, evaluation, offers (journeys that may move the customer + "
            "reservation), "
            "remember (the writes after the decision), total",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "yutang_decisions_total", "Decisions by event type and decision", ["event_type", "decision"], registry=r
        )
        self.rule_hits = Counter(
            "yutang_rule_hits_total", "Rule hits by rule id and mode (active | shadow)", ["rule", "mode"], registry=r
        )
        self.offers = Counter(
            "yutang_offers_total",
            "Offer outcomes by offer id: granted, held, exhausted, customer_cap, daily_cap, withheld",
            ["offer", "outcome"],
            registry=r,
        )
        self.experiment_grants = Counter(
            "yutang_experiment_grants_total",
            "Grants of an A/B experiment offer by offer, experiment and variant",
            ["offer", "experiment", "variant"],
            registry=r,
        )
        self.experiment_conversions = Counter(
            "yutang_experiment_conversions_total",
            "Paid orders counted as the first conversion of a customer in a variant",
            ["offer", "experiment", "variant"],
            registry=r,
        )
        self.contacts = Counter(
            "yutang_contacts_total",
            "Contact requests by channel and result (allowed | refused)",
            ["channel", "result"],
            registry=r,
        )
        self.outcomes = Counter("yutang_outcome_events_total", "Outcome events by type", ["event_type"], registry=r)
        self.wecom_callbacks = Counter(
            "yutang_wecom_callbacks_total",
            "WeCom callbacks by kind (change_external_contact/del_follow_user, ...) and result: recorded, "
            "duplicate (a retry of one already recorded), ignored (a kind yutang has no use for), refused",
            ["kind", "result"],
            registry=r,
        )
        self.degraded = Counter(
            "yutang_degraded_responses_total",
            "Responses answered without Redis, by event type, fail mode and stage",
            ["event_type", "fail_mode", "stage"],
            registry=r,
        )
        self.redis_errors = Counter(
            "yutang_redis_errors_total",
            "Redis failures by operation and kind (timeout | connection | other)",
            ["operation", "kind"],
            registry=r,
        )
        self.replays = Counter(
            "yutang_idempotent_replays_total",
            "Retried requests answered with the first response",
            ["route"],
            registry=r,
        )
        self.late_evidence = Counter(
            "yutang_late_evidence_total",
            "Steps late evidence took, by cause (fraud_label, chargeback, refund_released, case_denied, "
            "linked_at_checkout) and action (voided, cancelled, clawback, watch, case)",
            ["cause", "action"],
            registry=r,
        )
        self.cases_opened = Counter(
            "yutang_cases_opened_total", "Review events sent to the queue (a new case or a join)", registry=r
        )
        self.case_decisions = Counter(
            "yutang_case_decisions_total",
            "Case decisions by outcome (approve | deny | escalate | keep), reviewer role and via (reviewer | timeout)",
            ["decision", "role", "via"],
            registry=r,
        )
        self.cases_open = Gauge(
            "yutang_review_queue_open",
            "Undecided review cases (open or escalated), as of the latest scrape",
            multiprocess_mode="mostrecent",
            registry=r,
        )
        self.case_age = Gauge(
            "yutang_review_queue_age_seconds",
            "Age of the undecided review cases at the latest scrape, by quantile (0.5, 0.95, 1 = the oldest)",
            ["quantile"],
            multiprocess_mode="mostrecent",
            registry=r,
        )
        self.budget_remaining = Gauge(
            "yutang_offer_budget_remaining",
            "Units left in an offer's total budget, as of its latest grant or refusal (offers with a total only)",
            ["offer"],
            multiprocess_mode="mostrecent",
            registry=r,
        )
        self.ruleset_info = Gauge(
            "yutang_ruleset_info",
            "The running rule set version per tenant with a pack of its own (tenant '*': the base pack; 1 = running)",
            ["tenant", "version"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.reloads = Counter(
            "yutang_rule_reloads_total",
            "Rule set reloads by result (ok | failed | unchanged | rollback | abandoned: the client left mid-compile)",
            ["result"],
            registry=r,
        )
        # exported at 0: increase() cannot see a series born at 1
        for result in ("ok", "failed", "unchanged", "rollback", "abandoned"):
            self.reloads.labels(result)
        # the children the request path uses, bound once (Bound)
        self.request_count = Bound(self.requests)
        self.request_time = Bound(self.request_seconds)
        self.stage = Bound(self.stage_seconds)
        self.decision_count = Bound(self.decisions)
        self.rule_hit_count = Bound(self.rule_hits)
        self.offer_count = Bound(self.offers)
        self.budget_left = Bound(self.budget_remaining)
        self.experiment_grant_count = Bound(self.experiment_grants)

    def running_version(self, version: str, previous: str | None, *, tenant: str = "") -> None:
        """Mark ``version`` as the one running here for ``tenant`` ("": the base; ``previous`` as not)."""
        label = tenant or "*"
        if previous and previous != version:
            self.ruleset_info.labels(label, previous).set(0)
        self.ruleset_info.labels(label, version).set(1)

    def render(self) -> tuple[bytes, str]:
        """The exposition text: summed over workers in multiprocess mode."""
        if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(self.build_info)
            registry.register(WorkerProcesses(Path(directory)))
            if self.embedded_redis is not None:
                registry.register(self.embedded_redis)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class EmbeddedRedisCollector(Collector):
    """The supervisor's restarts and the server's state, read from its state file at each scrape.

    The supervisor lives in ``yutang serve``'s parent process, which serves no /metrics
    (and, with one worker, is the worker: its registry is the app's): a file is the one
    channel that is right in both cases. Two label values, never a pid.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def collect(self) -> Iterator[Metric]:
        state = read_state(self.path)
        if state is None:
            return
        restarts = CounterMetricFamily(
            "yutang_embedded_redis_restarts",
            "Restarts of the embedded Redis after it died, by outcome (ok | failed: it did not come back)",
            labels=["outcome"],
        )
        restarts.add_metric(["ok"], state.restarts_ok)
        restarts.add_metric(["failed"], state.restarts_failed)
        up = GaugeMetricFamily("yutang_embedded_redis_up", "1 while the supervised embedded Redis runs, 0 otherwise")
        up.add_metric([], 1 if state.state == "running" else 0)
        yield restarts
        yield up
