"""``create_app()``: the FastAPI application; settings, Redis and the engine come up in its lifespan.

Run it with ``yutang serve`` or ``uvicorn --factory api.app:create_app``. ``POST /v1/score``
is answered below the framework (api/scoring/hot.py) by :class:`Yutang`, through the
same middleware classes as every other route; everything else is FastAPI's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.admin.editing import router as sources_router
from api.admin.router import router as admin_router
from api.admin.versions import router as versions_router
from api.audit.router import router as audit_router
from api.cases.router import router as cases_router
from api.console.router import router as console_router
from api.contacts.router import router as contacts_router
from api.contract import publish_contract
from api.customers.router import router as customers_router
from api.devices.router import router as devices_router
from api.errors import install_error_handlers
from api.groupbuy.router import router as groupbuy_router
from api.health.router import router as health_router
from api.journeys.router import router as journeys_router
from api.json_keys import UniqueKeys
from api.keys.router import router as keys_router
from api.lists.router import router as lists_router
from api.media import JsonBodies, reads_json
from api.metrics import Metrics
from api.middleware import ASGIApp, BodyLimit, Receive, RequestMetrics, Scope, Send
from api.outcomes.router import router as outcomes_router
from api.recording.router import router as recording_router
from api.reports.router import router as reports_router
from api.request_log import RequestContext
from api.runtime import Runtime
from api.scoring.hot import ScoreEndpoint
from api.scoring.router import router as scoring_router
from api.settings import Settings
from api.stats.router import router as stats_router
from api.wecom.router import router as wecom_router
from engine.version import __version__

#: Uploaded rule packs are larger than events.
PACK_BODY_BYTES = 2 * 1024 * 1024

DESCRIPTION = """Risk decisions and offers for private-domain marketing events.

Authenticate with `Authorization: Bearer <key>`; each key belongs to one tenant
(merchant), carries a role (`platform`, `admin`, `marketer`, `reviewer`) and/or the data
scopes `score`, `events`. Only a `platform` key may act on another tenant, by naming it
in `X-Yutang-Tenant` (docs/api.md, "Roles")."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing is read or started until the lifespan runs."""
    settings = settings or Settings.from_env()
    metrics = Metrics(embedded_redis_state=settings.embedded_redis_state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.open(settings, metrics=metrics)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.close()

    app = Yutang(title="yutang", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    routers = (
        scoring_router,
        outcomes_router,
        customers_router,
        contacts_router,
        lists_router,
        devices_router,
        reports_router,
        stats_router,
        admin_router,
        versions_router,
        sources_router,
        console_router,
        recording_router,
        health_router,
        journeys_router,
        groupbuy_router,
        cases_router,
        wecom_router,
        keys_router,
        audit_router,
    )
    for router in routers:
        app.include_router(router)
    routes = [route for router in routers for route in router.routes if isinstance(route, APIRoute)]
    publish_contract(app, routes)
    app.add_middleware(UniqueKeys)  # innermost: a body refused as no JSON (415) is not parsed
    app.add_middleware(JsonBodies, routes=[route for route in routes if reads_json(route)])
    app.add_middleware(PathBodyLimit, settings=settings)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(RequestContext)  # outermost: every answer, even a middleware's refusal, has the request id
    if settings.hot_route:
        score_route = next(route for route in routes if route.path == "/v1/score")
        endpoint = ScoreEndpoint(score_route, lambda: app.state.runtime)
        app.serve_raw("POST", "/v1/score", _wrapped(endpoint, settings, metrics, [score_route]))
    return app


def _wrapped(endpoint: ASGIApp, settings: Settings, metrics: Metrics, routes: list[APIRoute]) -> ASGIApp:
    """``endpoint`` behind the middleware every FastAPI route is behind, in the same order."""
    app: ASGIApp = JsonBodies(UniqueKeys(endpoint), routes=routes)
    app = PathBodyLimit(app, settings=settings)  # type: ignore[assignment]
    app = RequestMetrics(app, metrics=metrics)
    return RequestContext(app)


class Yutang(FastAPI):
    """FastAPI, with a few routes answered by raw ASGI handlers before the framework sees them.

    A raw route is matched by method and exact path (after ``root_path``) with one dict
    lookup; anything else (another method, a trailing slash, the lifespan) goes to
    FastAPI, which still declares the route for the OpenAPI page.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.raw_routes: dict[tuple[str, str], ASGIApp] = {}

    def serve_raw(self, method: str, path: str, handler: ASGIApp) -> None:
        """Answer ``method path`` with ``handler`` (already wrapped in its middleware)."""
        self.raw_routes[(method, path)] = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.raw_routes:
            path, root = scope["path"], scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            handler = self.raw_routes.get((scope["method"], path))
            if handler is not None:
                scope["app"] = self
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class PathBodyLimit:
    """``BodyLimit`` with the configured event limit, and a larger one for rule packs."""

    def __init__(self, app: object, *, settings: Settings) -> None:
        limit = settings.max_body_bytes
        self.events = BodyLimit(app, limit=limit)  # type: ignore[arg-type]
        self.packs = BodyLimit(app, limit=max(limit, PACK_BODY_BYTES))  # type: ignore[arg-type]

    async def __call__(self, scope: dict[str, object], receive: object, send: object) -> None:
        path = scope.get("path", "")
        target = self.packs if isinstance(path, str) and path.startswith("/v1/rules") else self.events
        await target(scope, receive, send)  # type: ignore[arg-type]
