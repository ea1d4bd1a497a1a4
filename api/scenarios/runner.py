"""Run a pack's ``scenarios:`` through the real API, on a throw-away Redis, on a clock it controls.

One run = one pack directory and one backend: the app (``create_app``, the same one
``yutang serve`` runs) is started once on a fresh embedded Redis of its own (the
replay's ``throwaway_redis``), and each scenario is a tenant of its own there, so no
scenario sees another's counters, budgets, groups or lists (every key carries its
tenant), and the pack's seed lists are written for each, as a deployment writes them.
Starting a server and compiling the pack per scenario would cost ~1 s each; a tenant
costs nothing.

The clock is the scenario's: ``time_machine`` moves this process's wall clock (the
API, the ledger, the contact gate and the workers all read it), standing still except
one second per step and each ``advance:``. After an ``advance`` the due work a
``yutang worker`` would do runs at the new time: group-buy deadlines, expired holds and
reservations, journey timeouts (webhooks are refused, never sent). Redis' own key expiry
keeps real time, which only matters to keys that live for days (retry claims).
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import time_machine

from api.app import create_app
from api.scenarios.expect import check
from api.settings import Settings
from engine.diagnostics import Location
from engine.egress.policy import WebhookPolicy
from engine.egress.transport import Egress
from engine.model import Scenario, ScenarioStep
from engine.pack.durations import parse_duration
from engine.replay.sandbox import throwaway_redis

STEP_TICK = timedelta(seconds=1)


@dataclass
class StepResult:
    index: int
    kind: str
    location: Location
    failures: list[str] = field(default_factory=list)


@dataclass
class ScenarioResult:
    scenario: Scenario
    steps: list[StepResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(not s.failures for s in self.steps)


@dataclass
class _Run:
    """One scenario's state: its tenant's key, its clock, the last group it opened."""

    scenario: Scenario
    index: int
    key: str
    api: httpx.AsyncClient
    traveller: Any
    group_id: str | None = None

    @property
    def tenant(self) -> str:
        return f"scenario{self.index}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@asynccontextmanager
async def scenario_app(
    rules_path: Path, backend: str, tenants: int
) -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    """The app on a throw-away Redis with one admin key per scenario tenant."""
    keys = [f"scenario-{secrets.token_hex(12)}" for _ in range(tenants)]
    async with throwaway_redis("yutang-scenarios-") as server:
        with tempfile.TemporaryDirectory(prefix="yutang-scenarios-data-") as data_dir:
            settings = Settings(
                rules_path=rules_path,
                backend=backend,
                redis_url=server.url,
                data_dir=Path(data_dir),
                secret=secrets.token_hex(16),
                api_keys=",".join(f"{key}:scenario{i}:score+events+admin" for i, key in enumerate(keys)),
                watch_rules=False,
                redis_timeout_s=10,
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://scenario.test", timeout=60) as api:
                    api.app = app  # type: ignore[attr-defined]
                    yield api, keys


async def run_scenarios(rules_path: Path, backend: str, scenarios: tuple[Scenario, ...]) -> list[ScenarioResult]:
    """Every scenario of the pack, in order; a failed step does not stop its scenario."""
    if not scenarios:
        return []
    results = []
    async with scenario_app(rules_path, backend, len(scenarios)) as (api, keys):
        for index, scenario in enumerate(scenarios):
            with time_machine.travel(scenario.start, tick=False) as traveller:
                run = _Run(scenario, index, keys[index], api, traveller)
                results.append(await _run_scenario(run))
    return results


async def _run_scenario(run: _Run) -> ScenarioResult:
    result = ScenarioResult(run.scenario)
    for index, step in enumerate(run.scenario.steps):
        outcome = StepResult(index, step.kind, step.location)
        try:
            answer = await _perform(run, index, step)
            outcome.failures = check(step.expect, answer, await _seen(run, step, answer))
        except _Refused as err:
            outcome.failures = [str(err)]
        result.steps.append(outcome)
        run.traveller.shift(STEP_TICK)
    return result


class _Refused(Exception):
    """The API refused a step (a 4xx): the scenario's request is wrong, or the pack is."""


async def _perform(run: _Run, index: int, step: ScenarioStep) -> dict[str, Any]:
    kind, body = step.kind, step.body
    if kind == "score":
        return await _post(run, "/v1/score", _event(run, index, body))
    if kind == "outcome":
        return await _post(run, "/v1/events", _event(run, index, body))
    if kind == "contact":
        contact = {k: v for k, v in body.model_dump().items() if v is not None}
        return await _post(run, "/v1/contacts", {**contact, "at": _now()})
    if kind == "open_group":
        join = _event(run, index, {"type": "group_buy_join", **body.join})
        answer = await _post(run, "/v1/groupbuys", {"offer": body.offer, "join": join})
        run.group_id = (answer.get("group") or {}).get("group_id") or run.group_id
        return answer
    if kind == "join_group":
        if run.group_id is None:
            raise _Refused("join_group: no group was opened before this step")
        join = _event(run, index, {"type": "group_buy_join", **body})
        return await _post(run, f"/v1/groupbuys/{run.group_id}/join", {"join": join})
    if kind == "list":
        return await _list_change(run, body)
    if kind == "customer":
        return await _get(run, f"/v1/customers/{body}")
    run.traveller.shift(timedelta(seconds=parse_duration(body)))
    return await _due_work(run)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _event(run: _Run, index: int, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The step's event: its own id, the scenario's default customer, the scenario clock's time."""
    event = {"event_id": f"s{run.index}-{index}", "customer": run.scenario.customer, "timestamp": _now()}
    return {**event, **raw}


async def _post(run: _Run, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return _answer(path, await run.api.post(path, json=body, headers=run.headers))


async def _get(run: _Run, path: str) -> dict[str, Any]:
    return _answer(path, await run.api.get(path, headers=run.headers))


def _answer(path: str, response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 300:
        raise _Refused(f"{path} answered {response.status_code}: {response.text[:300]}")
    answer: dict[str, Any] = response.json()
    return answer


async def _list_change(run: _Run, change: Any) -> dict[str, Any]:
    if change.remove:
        path = f"/v1/lists/entries/{change.entity}/{change.value}"
        return _answer(path, await run.api.delete(path, params={"kind": change.kind}, headers=run.headers))
    entry = {"entity": change.entity, "value": change.value, "kind": change.kind, "reason": change.reason}
    return await _post(run, "/v1/lists/entries", entry)


async def _due_work(run: _Run) -> dict[str, Any]:
    """What ``yutang worker`` does at the scenario's new time, for this scenario's tenant."""
    from api.journeys.worker import build_worker as journey_worker
    from engine.scheduler.queue import DueQueue
    from engine.scheduler.run import build_worker as offer_worker

    runtime = run.api.app.state.runtime  # type: ignore[attr-defined]
    client, now = runtime.services.client, datetime.now(UTC)
    fired = await offer_worker(client).run_once(DueQueue(client, run.tenant))
    voided = await runtime.services.ledger.expire_holds(tenant=run.tenant, now=now)
    lapsed = await runtime.services.ledger.expire_reservations(tenant=run.tenant, now=now)
    async with Egress(WebhookPolicy.parse(hosts="")) as egress:  # a scenario never calls a real webhook
        moves = await journey_worker(runtime.services, runtime.rulesets, egress).run_once(now=time.time())
    return {"deadlines": fired, "holds_expired": voided, "reservations_lapsed": lapsed, "journeys": dict(moves)}


async def _seen(run: _Run, step: ScenarioStep, answer: Mapping[str, Any]) -> dict[str, Any]:
    """What the step's expectations read besides its answer: the offers report, the customer."""
    seen: dict[str, Any] = {}
    if "remaining" in step.expect:
        report = await _get(run, "/v1/reports/offers")
        seen["report"] = {row["offer"]: row for row in report["offers"]}
    if {"journey", "tags"} & set(step.expect):
        customer = step.body if step.kind == "customer" else _customer_of(run, step, answer)
        seen["customer"] = await _get(run, f"/v1/customers/{customer}")
    return seen


def _customer_of(run: _Run, step: ScenarioStep, answer: Mapping[str, Any]) -> str:
    body = step.body
    if isinstance(body, Mapping):
        return str(body.get("customer", run.scenario.customer))
    if step.kind == "open_group":
        return str(body.join.get("customer", run.scenario.customer))
    return str(getattr(body, "customer", run.scenario.customer))
