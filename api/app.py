"""``create_app()``: the FastAPI application; settings, Redis and the engine come up in its lifespan.

Run it with ``yutang serve`` or ``uvicorn --factory api.app:create_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
from api.keys.router import router as keys_router
from api.lists.router import router as lists_router
from api.media import JsonBodies, reads_json
from api.metrics import Metrics
from api.middleware import BodyLimit, RequestMetrics
from api.outcomes.router import router as outcomes_router
from api.recording.router import router as recording_router
from api.reports.router import router as reports_router
from api.request_log import RequestContext
from api.runtime import Runtime
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

    app = FastAPI(title="yutang", version=__version__, description=DESCRIPTION, lifespan=lifespan)
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
    app.add_middleware(JsonBodies, routes=[route for route in routes if reads_json(route)])
    app.add_middleware(PathBodyLimit, settings=settings)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(RequestContext)  # outermost: every answer, even a middleware's refusal, has the request id
    return app


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
