"""What ``/openapi.json`` promises beyond FastAPI's defaults, decided in one place.

Storefront developers generate clients from the document, so it must say what the
service does: operation ids a generated client would name its functions by
(``score_event``, not ``score_v1_score_post``), the bearer scheme on exactly the
operations that need a key, every error status with the real ``ErrorResponse`` body
(api/error_responses.py), and the package's own version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.error_responses import add_error_responses, needs_key

SCHEME = "bearerAuth"
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "an API key of one tenant: `Authorization: Bearer <key>` (docs/api.md, Keys and roles)",
}

#: (method, path) -> operation id, where the endpoint's function name is not the name a client wants.
#: A route not listed takes its function's name: name new endpoints as verb_noun.
OPERATION_IDS: dict[tuple[str, str], str] = {
    ("POST", "/v1/score"): "score_event",
    ("POST", "/v1/events"): "record_outcome",
    ("GET", "/v1/customers/{customer}"): "get_customer",
    ("POST", "/v1/contacts"): "request_contact",
    ("POST", "/v1/lists/entries"): "add_list_entry",
    ("GET", "/v1/lists/entries"): "list_list_entries",
    ("GET", "/v1/lists/entries/{entity}/{value}"): "get_list_entries",
    ("DELETE", "/v1/lists/entries/{entity}/{value}"): "remove_list_entry",
    ("GET", "/v1/reports/offers"): "get_offers_report",
    ("GET", "/v1/reports/experiments"): "get_experiments_report",
    ("GET", "/v1/reports/kpis"): "get_kpi_report",
    ("GET", "/v1/stats/protection"): "get_protection_stats",
    ("GET", "/v1/rules"): "get_rules",
    ("POST", "/v1/rules/validate"): "validate_rules",
    ("POST", "/v1/rules/reload"): "reload_rules",
    ("GET", "/v1/rules/versions"): "list_rule_versions",
    ("POST", "/v1/rules/rollback"): "rollback_rules",
    ("GET", "/v1/rules/files"): "get_rule_files",
    ("GET", "/v1/rules/sources"): "list_rule_sources",
    ("GET", "/v1/rules/source"): "get_rule_source",
    ("POST", "/v1/rules/source/validate"): "validate_rule_source",
    ("POST", "/v1/rules/source/reload"): "reload_rule_source",
    ("GET", "/v1/rules/hits"): "get_rule_hits",
    ("GET", "/v1/rules/shadow"): "get_shadow_report",
    ("POST", "/v1/rules/replay"): "replay_rules",
    ("POST", "/v1/console/dry-run"): "dry_run_event",
    ("GET", "/v1/events/export"): "export_events",
    ("GET", "/v1/groups/{group}"): "get_group",
    ("GET", "/v1/webhooks/deliveries"): "list_webhook_deliveries",
    ("POST", "/v1/groupbuys"): "open_group_buy",
    ("POST", "/v1/groupbuys/{group_id}/join"): "join_group_buy",
    ("GET", "/v1/groupbuys/{group_id}"): "get_group_buy",
    ("GET", "/v1/wecom/{tenant}/callback"): "verify_wecom_url",
    ("POST", "/v1/wecom/{tenant}/callback"): "receive_wecom_callback",
    ("GET", "/v1/wecom/report"): "get_wecom_report",
    ("GET", "/v1/whoami"): "get_caller",
    ("GET", "/v1/audit"): "list_audit_entries",
}


def name_operations(routes: Sequence[APIRoute]) -> None:
    """Give every route its operation id (before the document is first rendered)."""
    for route in routes:
        method = sorted(route.methods or {"GET"})[0]
        route.operation_id = OPERATION_IDS.get((method, route.path_format), route.name)


def publish_contract(app: FastAPI, routes: Sequence[APIRoute]) -> None:
    """Make ``app.openapi()`` carry the operation ids, errors and security of ``routes``."""
    name_operations(routes)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = build()
        if fresh:
            add_error_responses(schema, routes)
            add_security(schema, routes)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_security(schema: dict[str, Any], routes: Sequence[APIRoute]) -> None:
    schema.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME] = BEARER
    for route in routes:
        if not needs_key(route):
            continue
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is not None:
                operation["security"] = [{SCHEME: []}]
