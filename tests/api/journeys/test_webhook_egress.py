"""A marketer's pack aims its webhooks inside the deployment: validate says where, the worker sends nothing.

The attacker controls the rule pack (an admin key of one tenant, or a pack merged into
the rules directory) and events; the operator controls the settings. Deliveries go to a
real local HTTP receiver, which counts what reached it.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from journey_helpers import HOOK_SECRET, RULES, Receiver, crm_server, pack_with_hook, worker_for

from engine.egress.policy import WebhookPolicy
from engine.pack.loader import read_pack_files
from tests.api.serving import yutang_serve

ATTACKER = "attacker-admin-key-0123456"
STUDIO = "studio-admin-key-012345678"
SHIPPED_URL = "https://crm.tongqu-studio.example/yutang/hooks"
_n = iter(range(1_000_000))


def keys(attacker: str, studio: str) -> str:
    return f"{ATTACKER}:{attacker}:score+events+admin,{STUDIO}:{studio}:score+events+admin"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def shipped_with(url: str = SHIPPED_URL, secret_env: str = "YUTANG_WEBHOOK_SECRET_STUDIO_CRM") -> dict[str, str]:
    files = read_pack_files(RULES)
    name = next(n for n in files if n.endswith("studio_ladder.yaml"))
    text = files[name].replace(SHIPPED_URL, url).replace("YUTANG_WEBHOOK_SECRET_STUDIO_CRM", secret_env)
    return {**files, name: text}


def line_of(text: str, needle: str) -> tuple[int, int]:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(needle)


async def package_bought(api: httpx.AsyncClient, key: str, customer: str) -> None:
    """A 1,500 package: the ladder's transition calls the studio CRM webhook."""
    body = {"event_id": f"eg{next(_n)}", "type": "order_paid", "customer": customer, "amount": 1500,
            "timestamp": datetime.now(UTC).isoformat()}  # fmt: skip
    answer = await api.post("/v1/events", json=body, headers=auth(key))
    assert answer.status_code == 200, answer.text
    actions = answer.json()["journeys"][0]["actions"]
    assert actions == [{"action": "webhook", "target": "studio_crm", "result": "enqueued"}]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.1:6379/",
        "http://[::1]:8000/v1/rules/reload",
        "http://localhost:8000/v1/rules/reload",
    ],
)
async def test_validate_names_the_refused_url_at_its_line(make_api: Any, tenant: str, url: str) -> None:
    async with make_api(api_keys=keys(tenant, "studio")) as api:
        running = (await api.get("/v1/rules", headers=auth(ATTACKER))).json()["version"]
        files = shipped_with(url)
        answer = (await api.post("/v1/rules/validate", json={"files": files}, headers=auth(ATTACKER))).json()
        assert answer["ok"] is False
        name = next(n for n in files if n.endswith("studio_ladder.yaml"))
        line, col = line_of(files[name], url)
        refused = [d for d in answer["diagnostics"] if d["code"] == "WEBHOOK_HOST_REFUSED"]
        assert [(d["file"], d["line"], d["col"]) for d in refused] == [(name, line, col)]
        assert "YUTANG_WEBHOOK_HOSTS" in refused[0]["message"]
        reload = await api.post("/v1/rules/reload", json={"files": files}, headers=auth(ATTACKER))
        assert reload.status_code == 422 and "WEBHOOK_HOST_REFUSED" in reload.text
        assert (await api.get("/v1/rules", headers=auth(ATTACKER))).json()["version"] == running


async def test_a_secret_env_outside_the_prefix_is_a_diagnostic(make_api: Any, tenant: str) -> None:
    async with make_api(api_keys=keys(tenant, "studio")) as api:
        for stolen in ("YUTANG_API_KEYS", "PATH", "YUTANG_SECRET"):
            files = shipped_with(secret_env=stolen)
            answer = (await api.post("/v1/rules/validate", json={"files": files}, headers=auth(ATTACKER))).json()
            assert answer["ok"] is False
            messages = [d["message"] for d in answer["diagnostics"] if d["code"] == "WEBHOOK_SECRET_REFUSED"]
            assert len(messages) == 1 and f"{stolen} must start with YUTANG_WEBHOOK_SECRET_" in messages[0]


async def test_an_upload_is_checked_against_the_uploaders_own_allow_list(make_api: Any, tenant: str) -> None:
    url = "http://127.0.0.1:8080/hooks"
    async with make_api(api_keys=keys(tenant, "studio"), webhook_tenant_hosts="studio=127.0.0.1") as api:
        files = {"files": shipped_with(url)}
        studio = (await api.post("/v1/rules/validate", json=files, headers=auth(STUDIO))).json()
        attacker = (await api.post("/v1/rules/validate", json=files, headers=auth(ATTACKER))).json()
    assert studio["ok"] is True
    assert attacker["ok"] is False
    assert [d["code"] for d in attacker["diagnostics"] if d["severity"] == "error"] == ["WEBHOOK_HOST_REFUSED"]


async def test_the_receiver_gets_nothing_until_the_operator_allows_it(
    make_api: Any, tenant: str, tmp_path: Path, monkeypatch: Any
) -> None:
    """One deployment, two tenants: the studio may post to 127.0.0.1, the attacker's tenant may not."""
    monkeypatch.setenv("YUTANG_WEBHOOK_SECRET_STUDIO_CRM", HOOK_SECRET)
    receiver = Receiver()
    studio = f"s{tenant}"
    with crm_server(receiver) as url:
        settings = {"api_keys": keys(tenant, studio), "webhook_tenant_hosts": f"{studio}=127.0.0.1"}
        async with make_api(rules_path=pack_with_hook(tmp_path, url), **settings) as api, worker_for(api) as worker:
            await package_bought(api, ATTACKER, "mum_attacker")
            assert await worker.run_once(now=time.time() + 1) == Counter({"webhook_refused": 1})
            assert receiver.received == []
            assert await worker.run_once(now=time.time() + 3600) == Counter(), "a refusal is not retried"
            log = (await api.get("/v1/webhooks/deliveries", headers=auth(ATTACKER))).json()["deliveries"]
            assert [(d["status"], d["attempt"]) for d in log] == [("refused", 1)]
            assert "127.0.0.1 is a loopback address" in log[0]["detail"]
            await package_bought(api, STUDIO, "mum_studio")
            assert await worker.run_once(now=time.time() + 1) == Counter({"webhook_delivered": 1})
            assert [(r["body"]["customer"], r["signed"]) for r in receiver.received] == [("mum_studio", True)]


async def test_a_name_that_resolves_to_a_private_address_is_refused_at_delivery(
    make_api: Any, tenant: str, tmp_path: Path, monkeypatch: Any
) -> None:
    """The machine's own host name passes every literal check; what DNS answers for it does not."""
    monkeypatch.setenv("YUTANG_WEBHOOK_SECRET_STUDIO_CRM", HOOK_SECRET)
    name = socket.gethostname()
    receiver = Receiver()
    with crm_server(receiver) as url:
        port = url.split(":")[2].split("/")[0]
        resolved = {ipaddress.ip_address(i[4][0]) for i in socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)}
        if not all(WebhookPolicy().default.address_refusal(a) for a in resolved):
            pytest.skip(f"{name} resolves to a public address here: {resolved}")
        named = url.replace("127.0.0.1", name)
        async with (
            make_api(rules_path=pack_with_hook(tmp_path, named), api_keys=keys(tenant, "studio")) as api,
            worker_for(api) as worker,
        ):
            await package_bought(api, ATTACKER, "mum_a")
            assert await worker.run_once(now=time.time() + 1) == Counter({"webhook_refused": 1})
            log = (await api.get("/v1/webhooks/deliveries", headers=auth(ATTACKER))).json()["deliveries"]
    assert receiver.received == []
    assert log[0]["detail"].startswith(f"{name} resolves to ")


def test_over_real_http_validate_refuses_and_the_delivery_log_needs_the_admin_scope(tmp_path: Path) -> None:
    from tests.api.conftest import ALPHA, ALPHA_EVENTS, ALPHA_SCORE

    with yutang_serve(tmp_path, rules=RULES) as (base, _):
        files = shipped_with("http://169.254.169.254/latest/meta-data/", secret_env="YUTANG_API_KEYS")
        answer = httpx.post(f"{base}/v1/rules/validate", json={"files": files}, headers=auth(ALPHA), timeout=30)
        assert answer.status_code == 200
        codes = sorted(d["code"] for d in answer.json()["diagnostics"] if d["severity"] == "error")
        assert codes == ["WEBHOOK_HOST_REFUSED", "WEBHOOK_SECRET_REFUSED"]
        for key in (ALPHA_SCORE, ALPHA_EVENTS):
            denied = httpx.get(f"{base}/v1/webhooks/deliveries", headers=auth(key), timeout=10)
            assert denied.status_code == 403
            message = denied.json()["error"]["message"]
            assert "lacks the 'export' permission" in message and "role admin" in message
        assert httpx.get(f"{base}/v1/webhooks/deliveries", headers=auth(ALPHA), timeout=10).status_code == 200


def test_settings_read_the_policy_from_the_environment_and_refuse_a_bad_entry() -> None:
    from pydantic import ValidationError

    from api.settings import Settings

    env = {"YUTANG_WEBHOOK_HOSTS": "crm.studio.example", "YUTANG_WEBHOOK_TENANT_HOSTS": "studio=127.0.0.1"}
    policy = Settings.from_env(env).webhook_policy()
    assert policy.url_refusal("https://crm.studio.example/hooks", tenant="other") is None
    assert policy.url_refusal("https://evil.example/hooks", tenant="other") is not None
    assert policy.url_refusal("http://127.0.0.1:8080/", tenant="studio") is None
    assert Settings.from_env({}).webhook_policy().url_refusal("https://crm.studio.example/") is None
    assert Settings.from_env({"YUTANG_WEBHOOK_HOSTS": ""}).webhook_policy().url_refusal("https://a.example/")
    with pytest.raises(ValidationError, match="YUTANG_WEBHOOK_HOSTS: 'https://crm\\.studio"):
        Settings.from_env({"YUTANG_WEBHOOK_HOSTS": "https://crm.studio.example/"})
