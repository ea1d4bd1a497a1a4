"""The Grafana dashboard shows data: every query it holds answers from a real Prometheus.

``yutang serve`` (two workers) takes a little of every kind of traffic a merchant
sends; Prometheus scrapes it every second with the alert rules loaded; then each
panel query, annotation and template variable of ops/grafana/yutang.json, with
Grafana's variables filled in as Grafana would, must return finite values.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.metrics import Metrics
from engine.datastore.supervisor import STATE_FILE, SupervisorState
from tests.ops.conftest import ADMIN_KEY, OPS, SCRAPE_INTERVAL_S, Prometheus, Yutang, wait_until

DASHBOARD = json.loads((OPS / "grafana" / "yutang.json").read_text())
ALERTS = yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())
#: What Grafana puts in place of its variables ("All" for a multi-value variable is its allValue).
VARIABLES = {"$__rate_interval": "1m", "$__range": "5m", "$job": "yutang", "$event_type": ".*"}
SHANGHAI = timezone(timedelta(hours=8))


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from panels(item.get("panels", []))


def substitute(expr: str) -> str:
    for name in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, VARIABLES[name])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def panel_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and annotation."""
    found = [
        (f"panel '{p['title']}' {t['refId']}", t["expr"])
        for p in panels(DASHBOARD["panels"])
        for t in p.get("targets", [])
    ]
    found += [(f"annotation '{a['name']}'", a["expr"]) for a in DASHBOARD["annotations"]["list"] if "expr" in a]
    return found


def variable_queries() -> list[tuple[str, str, str]]:
    """(variable, metric, label) for every ``label_values(metric, label)`` variable."""
    found = []
    for variable in DASHBOARD["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["definition"])
            assert match, f"variable {variable['name']}: only label_values(metric, label) is supported here"
            found.append((variable["name"], match[1], match[2]))
    return found


def exported_names() -> set[str]:
    """Every series name the app exports (histograms and counters with their suffixes)."""
    names = set()
    with tempfile.TemporaryDirectory() as tmp:  # as `yutang serve` runs it: supervising its embedded Redis
        state = Path(tmp) / STATE_FILE
        state.write_text(json.dumps(asdict(SupervisorState())), encoding="utf-8")
        families = list(Metrics(embedded_redis_state=state).registry.collect())
    for family in families:
        kind = family.type
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(kind, [""])
        names |= {family.name + s for s in suffixes}
    names |= {rule["record"] for group in ALERTS["groups"] for rule in group["rules"] if "record" in rule}
    return names


# -- without a server -----------------------------------------------------------------


def test_every_series_on_the_dashboard_and_in_the_alerts_is_one_the_app_exports() -> None:
    exprs = [e for _, e in panel_queries()] + [m for _, m, _ in variable_queries()]
    exprs += [rule["expr"] for group in ALERTS["groups"] for rule in group["rules"]]
    used = {name for expr in exprs for name in re.findall(r"\byutang[_:][a-z0-9_:]+", expr)}
    assert used, "no yutang series found"
    assert used - exported_names() == set()


def test_panels_have_titles_descriptions_unique_ids_and_do_not_overlap() -> None:
    seen_ids, cells = set(), set()
    for panel in panels(DASHBOARD["panels"]):
        assert panel["title"] and panel["id"] not in seen_ids
        seen_ids.add(panel["id"])
        if panel["type"] == "row":
            continue
        assert panel.get("description"), f"panel '{panel['title']}' says nothing about what it shows"
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        mine = {(pos["x"] + dx, pos["y"] + dy) for dx in range(pos["w"]) for dy in range(pos["h"])}
        assert not mine & cells, f"panel '{panel['title']}' overlaps another"
        cells |= mine


def test_dashboard_covers_what_sre_and_marketers_asked_for() -> None:
    exprs = " ".join(e for _, e in panel_queries())
    for series in [
        "yutang_http_requests_total",
        "yutang_http_request_duration_seconds_bucket",
        "yutang_stage_duration_seconds_bucket",
        "yutang_decisions_total",
        "yutang_rule_hits_total",
        "yutang_offers_total",
        "yutang_contacts_total",
        "yutang_degraded_responses_total",
        "yutang_redis_errors_total",
        "yutang_ruleset_info",
        "yutang_rule_reloads_total",
    ]:
        assert series in exprs, f"no panel reads {series}"
    assert 'mode="shadow"' in exprs and 'mode="active"' in exprs, "shadow rules must be shown apart from active ones"


# -- against real servers -------------------------------------------------------------


def _event(run: str, n: int, type_: str, **fields: Any) -> dict[str, Any]:
    body = {
        "event_id": f"ops-{run}-{n}-{type_}",
        "type": type_,
        "customer": f"ops-{run}-c{n}",
        "device": f"ops-{run}-d{n}",
        "ip": f"36.112.{n}.{len(run) + 10}",
        "timestamp": datetime.now(UTC).isoformat(),
    }
    body.update(fields)
    return body


def merchant_traffic(server: Yutang, run: str) -> int:
    """A little of everything a merchant sends; returns how many /v1/score calls it made."""
    scores = 0
    with server.client() as api:

        def score(body: dict[str, Any], expect: int = 200) -> dict[str, Any]:
            nonlocal scores
            scores += 1
            answer = api.post("/v1/score", json=body)
            assert answer.status_code == expect, answer.text
            return dict(answer.json())

        first = _event(run, 0, "signup")
        assert score(first)["offers"], "a new customer's signup gets the trial offer"
        for n in (1, 2):
            score(_event(run, n, "signup"))
        assert score(_event(run, 3, "signup", attributes={"emulator": True}))["decision"] == "review"
        assert score(_event(run, 4, "signup", attributes={"rooted": True, "proxy": True}))["shadow"]
        score(_event(run, 5, "coupon_claim", campaign="newcomer_gift", amount=30))
        score(_event(run, 6, "referral", referrer=f"ops-{run}-c0"))
        assert api.post("/v1/score", json=first).headers.get("Idempotent-Replayed") == "true"
        scores += 1
        score({"type": "signup"}, expect=422)
        assert api.post("/v1/events", json=_event(run, 6, "order_paid", amount=99)).status_code == 200
        at = datetime.now(SHANGHAI).replace(hour=10, minute=0).isoformat()
        contacts = []
        for _ in range(3):
            answer = api.post("/v1/contacts", json={"customer": f"ops-{run}-c0", "channel": "group_message", "at": at})
            assert answer.status_code == 200, answer.text
            contacts.append(answer.json()["allowed"])
        assert contacts == [True, True, False], "the pack allows 2 group messages a week"
    assert (
        httpx.post(
            f"{server.url}/v1/score", json=first, headers={"Authorization": "Bearer wrong-key-0123456789"}
        ).status_code
        == 401
    )
    return scores + 1


def scraped_scores(prometheus: Prometheus) -> float:
    result = prometheus.query('sum(yutang_http_requests_total{job="yutang", route="/v1/score"})')
    return float(result[0]["value"][1]) if result else 0.0


def refuse_then_reload(server: Yutang) -> None:
    """A broken pack is refused; then an edited rules directory is reloaded."""
    with server.client(ADMIN_KEY) as api:
        refused = api.post("/v1/rules/reload", json={"files": {"pack.yaml": "pack: [\n"}})
        assert refused.status_code == 422
        pack = server.rules / "pack.yaml"
        pack.write_text(pack.read_text().replace("review_at: 40", "review_at: 45"))
        reloaded = api.post("/v1/rules/reload")
        assert reloaded.status_code == 200 and reloaded.json()["changed"], reloaded.text


@pytest.fixture(scope="module")
def scraped(yutang: Yutang, prometheus: Prometheus) -> Prometheus:
    """Traffic in two rounds, each seen by Prometheus, so that every rate has an increase."""
    wait_until(lambda: prometheus.query('up{job="yutang"} == 1') != [], timeout=30, what="the first scrape")
    sent = merchant_traffic(yutang, "a")
    wait_until(lambda: scraped_scores(prometheus) >= sent, timeout=30, what="round one to be scraped")
    refuse_then_reload(yutang)
    sent += merchant_traffic(yutang, "b")
    wait_until(lambda: scraped_scores(prometheus) >= sent, timeout=30, what="round two to be scraped")
    # every worker adopts a reload within its poll (rules_poll_s), and the info series is the max over the
    # workers: round two can be scraped before the last worker has marked the old version as not running
    reloaded = 'changes(yutang_ruleset_info{job="yutang"}[1m]) > 0'
    wait_until(lambda: prometheus.query(reloaded) != [], timeout=30, what="every worker's reload to be scraped")
    assert scraped_scores(prometheus) == sent, "/metrics sums both workers: every request counted once"
    return prometheus


@pytest.mark.slow
def test_every_dashboard_query_returns_data(scraped: Prometheus) -> None:
    empty = []
    for where, expr in panel_queries():
        values = [float(sample["value"][1]) for sample in scraped.query(substitute(expr))]
        if not any(math.isfinite(v) for v in values):
            empty.append(f"{where}: {substitute(expr)} -> {values}")
    assert empty == [], "queries without data:\n" + "\n".join(empty)


@pytest.mark.slow
def test_every_template_variable_has_values(scraped: Prometheus) -> None:
    for name, metric, label in variable_queries():
        values = scraped.get(f"/api/v1/label/{label}/values", **{"match[]": metric})
        assert values, f"variable {name}: no {label} values on {metric}"
    assert "signup" in scraped.get("/api/v1/label/event_type/values", **{"match[]": "yutang_decisions_total"})


@pytest.mark.slow
def test_alert_rules_evaluate_on_real_series_and_a_refused_reload_fires(scraped: Prometheus) -> None:
    groups = scraped.get("/api/v1/rules")["groups"]
    assert {g["name"] for g in groups} == {g["name"] for g in ALERTS["groups"]}
    broken = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] == "err"]
    assert broken == []

    def firing() -> set[str]:
        return {a["labels"]["alertname"] for a in scraped.get("/api/v1/alerts")["alerts"] if a["state"] == "firing"}

    wait_until(
        lambda: "YutangRuleReloadFailed" in firing(),
        timeout=15 * SCRAPE_INTERVAL_S,
        what="YutangRuleReloadFailed to fire",
    )
    assert firing() <= {"YutangRuleReloadFailed", "YutangRuleFiringSpike"}, "a healthy service raises no other alert"
