"""The OpenAPI document tells the truth: a client generated from it parses what the service really answers.

openapi-python-client (a test dependency, run offline) generates a client from the
live document; the test then drives the real app (on its own real Redis, stopped for
the 503) and checks that each status arrives as the generated typed model, not as
``None`` or an ``UnexpectedStatus``.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.datastore.embedded import EmbeddedRedis, free_port
from engine.version import __version__
from tests.api.conftest import ALPHA, ALPHA_SCORE, MakeApi, event

OPERATION_ID = re.compile(r"^[a-z]+(_[a-z0-9]+)*$")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "contract-redis", port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture
async def app_api(make_api: MakeApi, own_redis: EmbeddedRedis) -> AsyncIterator[httpx.AsyncClient]:
    async with make_api(redis_url=own_redis.url, redis_timeout_s=0.3, breaker_s=0.2) as client:
        yield client


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


async def test_operation_ids_security_errors_and_version_are_what_a_client_needs(
    app_api: httpx.AsyncClient,
) -> None:
    doc = (await app_api.get("/openapi.json")).json()
    assert doc["info"]["version"] == __version__
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {**doc["components"]["securitySchemes"]["bearerAuth"],
                                                                  "type": "http", "scheme": "bearer"}  # fmt: skip
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids)), "operation ids must be unique"
    for method, path, op in operations(doc):
        assert OPERATION_ID.match(op["operationId"]) and "_v1_" not in op["operationId"], (method, path)
        keyed = "403" in op["responses"]  # a key that lacks the role: only routes that take a key
        assert (op.get("security") == [{"bearerAuth": []}]) == keyed, (method, path)
        for status, response in op["responses"].items():
            if status[0] in "45":
                schema = response["content"]["application/json"]["schema"]
                body = "Readiness" if path == "/readyz" else "ErrorResponse"  # not ready: the readiness report
                assert schema == {"$ref": f"#/components/schemas/{body}"}, (method, path, status)
    untyped = []
    for method, path, op in operations(doc):
        ok = next((op["responses"][s] for s in ("200", "201") if s in op["responses"]), None)
        json_body = (ok or {}).get("content", {}).get("application/json")
        schema = (json_body or {}).get("schema", {})
        if json_body is not None and "$ref" not in schema and "$ref" not in schema.get("items", {}):
            untyped.append((method, path))
    # every JSON answer has its model; the NDJSON export, WeCom's plain text and 204s have no JSON body
    assert untyped == [("GET", "/v1/events/export")], untyped
    by_path = {(m, p): op for m, p, op in operations(doc)}
    assert by_path[("POST", "/v1/score")]["operationId"] == "score_event"
    assert "security" not in by_path[("POST", "/v1/wecom/{tenant}/callback")]  # WeCom signs, it has no key
    assert "security" not in by_path[("GET", "/healthz")]


async def test_a_generated_client_parses_every_status_into_its_typed_model(
    tmp_path: Path, app_api: httpx.AsyncClient, own_redis: EmbeddedRedis
) -> None:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps((await app_api.get("/openapi.json")).json()))
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", str(spec), "--meta", "none",
         "--output-path", str(tmp_path / "yt_generated")],
        check=True, capture_output=True, env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, timeout=120,
    )  # fmt: skip
    sys.path.insert(0, str(tmp_path))
    try:
        gen = importlib.import_module("yt_generated")
        score = importlib.import_module("yt_generated.api.scoring.score_event")
        outcome = importlib.import_module("yt_generated.api.outcomes.record_outcome")
        models = importlib.import_module("yt_generated.models")
        transport = httpx.ASGITransport(app=app_api.app)  # type: ignore[attr-defined]

        def client(key: str) -> Any:
            return gen.AuthenticatedClient(
                base_url="http://yutang.test", token=key, httpx_args={"transport": transport}
            )

        def body(**fields: Any) -> Any:
            return models.Event.from_dict(event("signup", **fields))

        ok = await score.asyncio_detailed(client=client(ALPHA), body=body())
        assert ok.status_code == 200 and isinstance(ok.parsed, models.ScoreResponse)
        assert ok.parsed.decision in {"allow", "review", "deny"}

        def error_of(response: Any, status: int, code: str) -> None:
            assert response.status_code == status, response.content
            assert isinstance(response.parsed, models.ErrorResponse), (status, response.parsed)
            assert response.parsed.error.code == code

        error_of(
            await score.asyncio_detailed(client=client("no-such-key-0123456789"), body=body()), 401, "unauthorized"
        )
        error_of(await outcome.asyncio_detailed(client=client(ALPHA_SCORE), body=body()), 403, "forbidden")
        first = event("signup")
        await score.asyncio_detailed(client=client(ALPHA), body=models.Event.from_dict(first))
        reused = models.Event.from_dict({**first, "customer": "someone-else"})
        error_of(await score.asyncio_detailed(client=client(ALPHA), body=reused), 409, "idempotency_conflict")
        huge = body(attributes={f"a{i}": "x" * 1024 for i in range(64)})
        error_of(await score.asyncio_detailed(client=client(ALPHA), body=huge), 413, "payload_too_large")
        error_of(await score.asyncio_detailed(client=client(ALPHA), body=body(phone="not a phone")), 422,
                 "invalid_request")  # fmt: skip
        raw = client(ALPHA).get_async_httpx_client()
        plain = await raw.post("/v1/score", content=b"{}", headers={"Content-Type": "text/plain"})
        parsed = score._build_response(client=client(ALPHA), response=plain)
        error_of(parsed, 415, "unsupported_media_type")
        own_redis.stop()
        down = await outcome.asyncio_detailed(client=client(ALPHA), body=models.Event.from_dict(event("order_paid")))
        error_of(down, 503, "store_unavailable")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("yt_generated")]:
            del sys.modules[name]
