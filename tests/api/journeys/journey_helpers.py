"""A shipped-pack app whose webhook points at a real local HTTP server, and a worker on its Redis."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from api.journeys.worker import build_worker
from engine.egress.transport import Egress
from engine.journeys.worker import Worker

RULES = Path(__file__).parents[3] / "rules"
SHANGHAI = ZoneInfo("Asia/Shanghai")
#: A Standard Webhooks secret (``whsec_`` + base64 of the key), as ``yutang webhook-secret`` prints one.
HOOK_SECRET = "whsec_c3R1ZGlvLWNybS1zZWNyZXQtZm9yLXRlc3RzLTMyYnl0ZXM="
#: The operator's setting that lets webhooks reach the local receiver (loopback is refused by default).
LOCAL_HOOKS = "127.0.0.1"
START = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)  # a Tuesday morning


def day(n: float, hour: int = 10, minute: int = 0) -> datetime:
    """Day ``n`` of the simulated month (day 1 = 1 December), local time."""
    return (START + timedelta(days=n - 1)).replace(hour=hour, minute=minute)


@dataclass
class Receiver:
    """The merchant's CRM: records every request, answers 503 to the first ``fail_first`` ones.

    It verifies each request with the Standard Webhooks reference library, as a merchant's
    receiver would, never with yutang's own signing code.
    """

    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            try:
                Webhook(HOOK_SECRET).verify(body, headers)
                signed = True
            except WebhookVerificationError:
                signed = False
            status = 503 if len(self.received) < self.fail_first else 200
            self.received.append(
                {
                    "status": status,
                    "signed": signed,
                    "delivery": {k.lower(): v for k, v in headers.items()}.get("webhook-id"),
                    "attempt": int(headers.get("X-Yutang-Attempt", "0")),
                    "body": json.loads(body),
                }
            )
            return status

    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.received if r["status"] == 200]


@contextlib.contextmanager
def crm_server(receiver: Receiver) -> Any:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.handle(dict(self.headers), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def pack_with_hook(tmp_path: Path, url: str) -> Path:
    """The shipped rules, with the studio CRM webhook pointed at ``url``."""
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    ladder = target / "journeys" / "studio_ladder.yaml"
    text = ladder.read_text(encoding="utf-8")
    ladder.write_text(text.replace("https://crm.tongqu-studio.example/yutang/hooks", url), encoding="utf-8")
    return target


@contextlib.asynccontextmanager
async def worker_for(api: httpx.AsyncClient, *, lease_s: float = 60.0) -> AsyncIterator[Worker]:
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    async with Egress(runtime.settings.webhook_policy()) as egress:  # the operator's allow-list, as in production
        yield build_worker(runtime.services, runtime.rulesets, egress, lease_s=lease_s)
