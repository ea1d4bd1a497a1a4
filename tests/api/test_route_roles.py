"""Every route of the app x every role, over real HTTP on a 2-worker server: the status each one gets.

``ROUTES`` holds a decision for every route ``create_app()`` has: who may call it and
what an allowed caller gets for the probe request (placeholder ids, a body of ``[]``
that no route accepts, so nothing is changed). A route added without a decision
fails ``test_every_route_has_a_decision``. Then, for every route:

- without a key: 401 (unless public);
- each role and data scope: the route's status if it may, else 403;
- each of alpha's keys naming tenant beta in ``X-Yutang-Tenant``: 403, whatever the role;
- the platform key naming beta: the same status as on its own tenant.

And a key revoked on one worker is refused by the next request on any worker.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.routing import BaseRoute

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import PACK
from tests.api.roles import ALPHA, CALLERS, PLATFORM, ROLE_KEYS
from tests.api.serving import serve_on

ANY = frozenset(CALLERS)
SCORE = frozenset({"admin", "score"})
EVENTS = frozenset({"admin", "events"})
CONTACT = frozenset({"admin", "score", "events"})
RULES = frozenset({"platform", "admin", "marketer"})
ADMIN = frozenset({"platform", "admin"})
PLATFORM_ONLY = frozenset({"platform"})
REVIEW = frozenset({"platform", "admin", "reviewer"})
PUBLIC = None

#: (method, path template) -> (who may call it (None: no key needed), what an allowed probe gets)
ROUTES: dict[tuple[str, str], tuple[frozenset[str] | None, int]] = {
    ("GET", "/openapi.json"): (PUBLIC, 200),
    ("GET", "/docs"): (PUBLIC, 200),
    ("GET", "/docs/oauth2-redirect"): (PUBLIC, 200),
    ("GET", "/redoc"): (PUBLIC, 200),
    ("GET", "/console"): (PUBLIC, 200),
    ("GET", "/console/{view}"): (PUBLIC, 404),  # the probe names no view
    ("GET", "/console/static/{path:path}"): (PUBLIC, 404),
    ("GET", "/healthz"): (PUBLIC, 200),
    ("GET", "/readyz"): (PUBLIC, 200),
    ("GET", "/metrics"): (PUBLIC, 200),
    ("POST", "/v1/score"): (SCORE, 422),
    ("POST", "/v1/events"): (EVENTS, 422),
    ("POST", "/v1/contacts"): (CONTACT, 422),
    ("POST", "/v1/groupbuys"): (SCORE, 422),
    ("POST", "/v1/groupbuys/{group_id}/join"): (SCORE, 422),
    ("GET", "/v1/groupbuys/{group_id}"): (ANY, 404),
    ("GET", "/v1/customers/{customer}"): (ANY, 200),
    ("GET", "/v1/groups/{group}"): (ANY, 200),
    ("GET", "/v1/reports/offers"): (ANY, 200),
    ("GET", "/v1/reports/experiments"): (ANY, 200),
    ("GET", "/v1/reports/kpis"): (ANY, 200),
    ("GET", "/v1/stats/protection"): (ANY, 200),
    ("GET", "/v1/rules"): (ANY, 200),
    ("GET", "/v1/rules/versions"): (ANY, 200),
    ("GET", "/v1/rules/hits"): (ANY, 200),
    ("GET", "/v1/rules/shadow"): (ANY, 200),
    ("GET", "/v1/whoami"): (ANY, 200),
    ("POST", "/v1/rules/validate"): (RULES, 422),
    ("POST", "/v1/rules/reload"): (RULES, 422),
    ("POST", "/v1/rules/rollback"): (RULES, 422),
    ("GET", "/v1/rules/files"): (RULES, 200),
    ("GET", "/v1/rules/sources"): (RULES, 200),
    ("GET", "/v1/rules/source"): (RULES, 422),  # no path
    ("POST", "/v1/rules/source/validate"): (RULES, 422),
    ("POST", "/v1/rules/source/reload"): (RULES, 422),
    ("POST", "/v1/rules/replay"): (RULES, 422),
    ("POST", "/v1/console/dry-run"): (RULES, 422),
    ("POST", "/v1/lists/entries"): (ADMIN, 422),
    ("GET", "/v1/lists/entries"): (ADMIN, 200),
    ("GET", "/v1/lists/entries/{entity}/{value:path}"): (ADMIN, 200),
    ("DELETE", "/v1/lists/entries/{entity}/{value:path}"): (ADMIN, 422),  # no kind
    ("GET", "/v1/events/export"): (ADMIN, 409),  # recording is off
    ("GET", "/v1/webhooks/deliveries"): (ADMIN, 200),
    ("POST", "/v1/keys"): (ADMIN, 422),
    ("GET", "/v1/keys"): (ADMIN, 200),
    ("DELETE", "/v1/keys/{key_id}"): (ADMIN, 404),
    ("GET", "/v1/audit"): (ADMIN, 200),
    ("GET", "/v1/tenants"): (PLATFORM_ONLY, 200),
    ("POST", "/v1/devices"): (ADMIN, 422),
    ("GET", "/v1/devices"): (ADMIN, 200),
    ("GET", "/v1/devices/{device}"): (ADMIN, 404),
    ("DELETE", "/v1/devices/{device}"): (ADMIN, 404),
    ("GET", "/v1/wecom/{tenant}/callback"): (PUBLIC, 422),  # WeCom signs its calls: no key (api/wecom)
    ("POST", "/v1/wecom/{tenant}/callback"): (PUBLIC, 422),
    ("GET", "/v1/wecom/report"): (ANY, 200),
    ("POST", "/v1/tenants"): (PLATFORM_ONLY, 422),
    ("GET", "/v1/rules/versions/{a}/diff/{b}"): (ANY, 404),  # versions this tenant never ran
    ("GET", "/v1/cases"): (REVIEW, 200),
    ("GET", "/v1/cases/{case_id}"): (REVIEW, 404),
    ("POST", "/v1/cases/{case_id}/claim"): (REVIEW, 404),
    ("POST", "/v1/cases/{case_id}/decision"): (REVIEW, 422),  # the probe's body is not a decision
}
PLACEHOLDERS = {
    "{group_id}": "trial.0123456789ab", "{customer}": "c-probe", "{group}": "grp-probe", "{entity}": "device",
    "{value:path}": "d-probe", "{key_id}": "0123456789ab", "{tenant}": "alpha", "{device}": "d-probe",
    "{a}": "0123abcd", "{b}": "4567ef01", "{case_id}": "c_0123456789",
}  # fmt: skip


def app_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route the app serves, through included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from app_routes(included.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
            continue
        for method in sorted(set(getattr(route, "methods", None) or ()) - {"HEAD"}):
            yield method, prefix + route.path  # type: ignore[attr-defined]


def probe_path(template: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        template = template.replace(placeholder, value)
    return template


def test_every_route_has_a_decision() -> None:
    served = set(app_routes(create_app(Settings()).routes))
    assert served - set(ROUTES) == set(), "a route without a role decision: add it to ROUTES"
    assert set(ROUTES) - served == set(), "ROUTES names a route the app no longer has"


@pytest.fixture(scope="module", params=["embedded"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("roles")
    with serve_on(request, root, rules=PACK, env={"YUTANG_API_KEYS": ROLE_KEYS}) as base:
        yield base


def call(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    sends_body = method in ("POST", "PUT", "PATCH")
    return client.request(method, probe_path(path), json=[] if sends_body else None, headers=headers)


def test_route_by_role_table(server: str) -> None:
    wrong: list[str] = []
    with httpx.Client(base_url=server, timeout=30) as client:
        for (method, path), (allowed, ok) in sorted(ROUTES.items()):
            cases: list[tuple[str, dict[str, str], int]] = [("no key", {}, ok if allowed is PUBLIC else 401)]
            for who, key in CALLERS.items():
                expected = ok if allowed is PUBLIC or who in allowed else 403
                cases.append((who, {"Authorization": f"Bearer {key}"}, expected))
                if allowed is not PUBLIC:
                    naming = {"Authorization": f"Bearer {key}", "X-Yutang-Tenant": "beta"}
                    cases.append((f"{who} naming beta", naming, expected if who == "platform" else 403))
            for who, headers, expected in cases:
                got = call(client, method, path, headers)
                if got.status_code != expected:
                    wrong.append(f"{method} {path} as {who}: {got.status_code} (expected {expected}) {got.text[:160]}")
                elif expected == 403:
                    error = got.json()["error"]
                    named = "only a platform key" in error["message"] or error.get("wanted")
                    home = "ops" if who.startswith("platform") else "alpha"
                    assert named and error["tenant"] == home, (method, path, who, error)
    assert wrong == []


def test_a_revoked_key_is_refused_by_the_next_request_on_every_worker(server: str) -> None:
    admin = {"Authorization": f"Bearer {ALPHA}"}
    made = httpx.post(f"{server}/v1/keys", json={"role": "marketer"}, headers=admin, timeout=30)
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    for _ in range(12):  # a fresh connection each: both workers serve some
        assert httpx.get(f"{server}/v1/rules", headers=key, timeout=30).status_code == 200
    revoked = httpx.delete(f"{server}/v1/keys/{made.json()['id']}", headers=admin, timeout=30)
    assert revoked.status_code == 200
    statuses = {httpx.get(f"{server}/v1/rules", headers=key, timeout=30).status_code for _ in range(12)}
    assert statuses == {401}
    platform = {"Authorization": f"Bearer {PLATFORM}", "X-Yutang-Tenant": "alpha"}
    entries = httpx.get(f"{server}/v1/audit", params={"action": "keys"}, headers=platform, timeout=30).json()
    assert [e["action"] for e in entries["entries"]] == ["keys.revoke", "keys.create"]
