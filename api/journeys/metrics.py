"""Journey and community series, registered on the app's own registry the first time they are used."""

from __future__ import annotations

from prometheus_client import Gauge

from api.metrics import Metrics


def kpi_gauge(metrics: Metrics) -> Gauge:
    """``yutang_store_kpi{kpi, period}``: the last KPI report computed, for the dashboard."""
    found: Gauge | None = getattr(metrics, "_store_kpi", None)
    if found is None:
        found = Gauge("yutang_store_kpi", "Store KPIs of the last report", ["kpi", "period"], registry=metrics.registry)
        metrics._store_kpi = found  # type: ignore[attr-defined]
    return found
