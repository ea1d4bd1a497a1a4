"""Review cases, late evidence and clawbacks through real HTTP: ``yutang serve`` with 2 workers on
its embedded Redis, and ``yutang worker`` for the timeouts and the clawback webhooks.

One server for the module (each story uses its own customers), so the suite costs one start-up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.cases.review_pack import ENV, write_pack
from tests.api.conftest import ALPHA, KEYS, SECRET, auth, event
from tests.api.serving import yutang_serve

VIRTUAL = "17012345678"  # virtual-operator segment: the pack's review rule
OTHER_REVIEWER = "second-reviewer-key-0123"
FARM_ADDRESS = "上海市浦东新区张杨路1500号 丰巢快递柜"


class Hooks:
    """A merchant CRM receiving the clawback webhooks."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hooks.lock:
                    hooks.received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    receiver = Hooks()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, hooks: Hooks) -> Iterator[tuple[str, Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("review")
    pack = write_pack(root, hook_port=hooks.port, sla="3s", on_timeout="deny", trial_total=4)
    env = {**ENV, "YUTANG_API_KEYS": f"{KEYS},{OTHER_REVIEWER}:alpha:admin"}
    with yutang_serve(root, rules=pack, workers=2, env=env) as (base, _):
        yield base, root, env


@pytest.fixture
def client(served: tuple[str, Path, dict[str, str]]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0], timeout=20) as http:
        yield http


def score(client: httpx.Client, type_: str, customer: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/score", json=event(type_, customer=customer, **fields), headers=auth())
    assert response.status_code == 200, response.text
    return dict(response.json())


def outcome(client: httpx.Client, type_: str, customer: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/events", json=event(type_, customer=customer, **fields), headers=auth())
    assert response.status_code == 200, response.text
    return dict(response.json())


def open_case(client: httpx.Client, customer: str) -> dict[str, Any]:
    page = client.get("/v1/cases", params={"customer": customer}, headers=auth()).json()
    assert len(page["cases"]) == 1, page
    return dict(page["cases"][0])


def customer_view(client: httpx.Client, customer: str) -> dict[str, Any]:
    return dict(client.get(f"/v1/customers/{customer}", headers=auth()).json())


def test_the_case_lifecycle_end_to_end(client: httpx.Client) -> None:
    body = score(client, "signup", "life-1", phone=VIRTUAL)
    assert body["decision"] == "review" and {"offer": "trial_99", "why": "risk"} in body["withheld"]
    score(client, "coupon_claim", "life-1", phone=VIRTUAL)
    case = open_case(client, "life-1")
    assert (case["state"], case["event_count"], case["value_at_stake"]) == ("open", 2, 129.0)
    listed = client.get("/v1/cases", params={"sort": "value", "reason": "virtual_phone"}, headers=auth()).json()
    assert case["id"] in [c["id"] for c in listed["cases"]]
    detail = client.get(f"/v1/cases/{case['id']}", headers=auth()).json()
    assert detail["events"][0]["reasons"][0]["values"] == {"phone.segment": "170"}
    assert detail["linked"]["identities"] == {"phone": 1}
    assert client.post(f"/v1/cases/{case['id']}/claim", headers=auth()).status_code == 200
    decided = client.post(f"/v1/cases/{case['id']}/decision", json={"decision": "escalate", "note": "ask the store"},
                          headers=auth())  # fmt: skip
    assert decided.json()["state"] == "escalated" and decided.json()["claimed_by"] is None
    approved = client.post(f"/v1/cases/{case['id']}/decision", json={"decision": "approve", "note": "she came in"},
                           headers=auth(OTHER_REVIEWER))  # fmt: skip
    assert approved.status_code == 200, approved.text
    assert approved.json()["decided_by"].startswith("key:") and approved.json()["note"] == "she came in"
    log = client.get(f"/v1/cases/{case['id']}", headers=auth()).json()["log"]
    assert [entry["action"] for entry in log] == ["claim", "escalate", "approve"]
    assert client.get("/v1/cases", params={"customer": "life-1"}, headers=auth()).json()["cases"] == []
    assert client.get("/v1/cases", params={"customer": "life-1", "state": "approved"}, headers=auth()).json()["cases"]
    metrics = client.get("/metrics").text
    assert 'yutang_case_decisions_total{decision="approve",role="admin",via="reviewer"}' in metrics
    assert "yutang_review_queue_age_seconds" in metrics


def test_two_reviewers_racing_to_claim_get_one_lease(client: httpx.Client) -> None:
    score(client, "signup", "race-1", phone=VIRTUAL)
    case = open_case(client, "race-1")

    def claim(key: str) -> int:
        return client.post(f"/v1/cases/{case['id']}/claim", headers=auth(key)).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(claim, [ALPHA, OTHER_REVIEWER] * 4))
    winners = {key for key, status in zip([ALPHA, OTHER_REVIEWER] * 4, statuses, strict=True) if status == 200}
    assert len(winners) == 1 and statuses.count(409) == 4  # the holder may claim again; the other never
    loser = OTHER_REVIEWER if winners == {ALPHA} else ALPHA
    refused = client.post(f"/v1/cases/{case['id']}/decision", json={"decision": "deny"}, headers=auth(loser))
    assert refused.status_code == 409 and refused.json()["error"]["claimed_by"].startswith("key:")


def test_approve_grants_the_withheld_offer_within_its_budget(client: httpx.Client) -> None:
    score(client, "signup", "budget-1", phone=VIRTUAL)
    score(client, "signup", "budget-2", phone=VIRTUAL)
    remaining = None
    for n in range(5):  # honest customers take the trial until one unit is left
        honest = score(client, "signup", f"budget-honest-{n}")
        assert honest["offers"][0]["offer"] == "trial_99"
        remaining = honest["offers"][0]["remaining"]
        if remaining == 1:
            break
    assert remaining == 1
    first, second = open_case(client, "budget-1"), open_case(client, "budget-2")
    one = client.post(f"/v1/cases/{first['id']}/decision", json={"decision": "approve"}, headers=auth()).json()
    assert [(g["offer"], g["status"]) for g in one["result"]["granted"]] == [("trial_99", "granted")]
    two = client.post(f"/v1/cases/{second['id']}/decision", json={"decision": "approve"}, headers=auth()).json()
    assert two["result"]["granted"] == []
    assert two["result"]["not_granted"] == [{"offer": "trial_99", "event_id": two_event(client, second),
                                             "beneficiary": "budget-2", "why": "exhausted"}]  # fmt: skip
    offers = customer_view(client, "budget-1")["offers"]
    assert [(o["offer"], o["status"]) for o in offers] == [("trial_99", "granted")]


def two_event(client: httpx.Client, case: dict[str, Any]) -> str:
    return str(client.get(f"/v1/cases/{case['id']}", headers=auth()).json()["events"][0]["event_id"])


def test_deny_voids_holds_and_claws_back_released_rewards(client: httpx.Client, hooks: Hooks) -> None:
    score(client, "coupon_claim", "deny-1")  # newcomer gift, held until deny-1 pays
    outcome(client, "order_paid", "deny-1", amount=99, attributes={"order_id": "o-deny-1"})  # released
    invited = score(client, "referral", "deny-friend", referrer="deny-1")
    assert invited["offers"][0]["status"] == "held"  # deny-1's referral gift, pending
    score(client, "red_packet_claim", "deny-1", phone=VIRTUAL)
    case = open_case(client, "deny-1")
    denied = client.post(f"/v1/cases/{case['id']}/decision", json={"decision": "deny", "note": "farm"},
                         headers=auth()).json()  # fmt: skip
    result = denied["result"]
    assert [v.split("/")[0] for v in result["voided"]] == ["referral_gift"]
    assert [(c["offer_id"], c["cause"], c["value"]) for c in result["clawbacks"]] == [
        ("newcomer_gift", "case_denied", 30.0)
    ]
    view = customer_view(client, "deny-1")
    assert [c["offer_id"] for c in view["clawbacks"]] == ["newcomer_gift"]
    assert {(e["kind"]) for e in view["lists"]} == {"block", "watch"}
    statuses = {o["offer"]: o["status"] for o in view["offers"]}
    assert statuses == {"newcomer_gift": "clawback", "referral_gift": "voided"}
    again = client.post(f"/v1/cases/{case['id']}/decision", json={"decision": "deny", "note": "farm"}, headers=auth())
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["result"] == result
    assert len(customer_view(client, "deny-1")["clawbacks"]) == 1
    assert score(client, "signup", "deny-1")["decision"] == "deny"  # blocked


def test_a_refund_after_the_release_claws_the_referrers_reward_back(client: httpx.Client) -> None:
    score(client, "referral", "hired-buyer", referrer="ring-leader")
    paid = outcome(client, "order_paid", "hired-buyer", amount=99, attributes={"order_id": "o-brush-1"})
    assert [h["status"] for h in paid["holds"]] == ["released"]
    refund = outcome(client, "refund", "hired-buyer", amount=99, attributes={"order_id": "o-brush-1"})
    clawbacks = refund["late_evidence"]["clawbacks"]
    assert [(c["customer"], c["offer_id"], c["cause"]) for c in clawbacks] == [
        ("ring-leader", "referral_gift", "refund_released")
    ]
    assert [c["offer_id"] for c in customer_view(client, "ring-leader")["clawbacks"]] == ["referral_gift"]
    second = outcome(client, "refund", "hired-buyer", amount=99, attributes={"order_id": "o-brush-1"})
    assert "late_evidence" not in second or second["late_evidence"]["clawbacks"] == []  # once per reward
    other = outcome(client, "refund", "hired-buyer", amount=10, attributes={"order_id": "o-unrelated"})
    assert "late_evidence" not in other


def test_a_checkout_denied_for_a_shared_wallet_voids_the_farms_held_gifts(client: httpx.Client) -> None:
    farm = ["wallet-a", "wallet-b", "wallet-c"]
    for index, account in enumerate(farm):
        assert score(client, "coupon_claim", account, device=f"w-phone-{index}")["offers"][0]["status"] == "held"
    for account in farm[:2]:  # the wallet's first two accounts: nothing shows yet
        assert score(client, "order", account, amount=30, payment="wx-farm-wallet")["decision"] == "allow"
    denied = score(client, "order", "wallet-c", amount=30, payment="wx-farm-wallet")
    assert denied["decision"] == "deny" and denied["reasons"][0]["code"] == 1005
    view = customer_view(client, "wallet-c")
    assert [o["status"] for o in view["offers"]] == ["voided"]  # voided at the denied checkout itself
    assert view["late_evidence"][0]["cause"] == "denied_at_checkout"
    for account in farm:  # paying (the outcome carries no wallet) releases nothing: the wallet was denied
        paid = outcome(client, "order_paid", account, amount=30)
        assert paid["holds"] == [], account
        late = paid["late_evidence"]
        assert late["cause"] == "denied_at_checkout" and late["links"][0]["linked_customer"] == "wallet-c"
        assert [o["status"] for o in customer_view(client, account)["offers"]] == ["voided"]
    for parent in ("tablet-mum", "tablet-dad"):  # one family tablet, each parent pays from their own wallet
        assert score(client, "coupon_claim", parent, device="family-tablet")["offers"][0]["status"] == "held"
        assert score(client, "order", parent, amount=30, payment=f"wx-{parent}")["decision"] == "allow"
        paid = outcome(client, "order_paid", parent, amount=30)
        assert [h["status"] for h in paid["holds"]] == ["released"] and "late_evidence" not in paid


def test_a_hub_wallet_denied_at_checkout_does_not_void_every_account_it_paid_for(client: httpx.Client) -> None:
    payers = [f"hub-{i}" for i in range(9)]  # a company's account paying for nine staff (代付)
    for index, account in enumerate(payers):
        assert score(client, "coupon_claim", account, device=f"hub-phone-{index}")["offers"][0]["status"] == "held"
        score(client, "order", account, amount=30, payment="wx-company-account")
    paid = outcome(client, "order_paid", "hub-0", amount=30)  # paid before the wallet showed; not denied itself
    assert [h["status"] for h in paid["holds"]] == ["released"] and "late_evidence" not in paid
    denied = outcome(client, "order_paid", "hub-8", amount=30)  # the checkout the rules denied: nothing released
    assert denied["holds"] == [] and denied["late_evidence"]["cause"] == "denied_at_checkout"


def test_a_farm_linked_at_checkout_loses_its_earlier_held_gifts(client: httpx.Client) -> None:
    farm = ["farm-a", "farm-b", "farm-c"]
    for index, account in enumerate(farm):
        granted = score(client, "coupon_claim", account, device=f"phone-{index}")
        assert granted["offers"][0]["status"] == "held"
    first = outcome(client, "order_paid", "farm-a", amount=30, address=FARM_ADDRESS)
    assert [h["status"] for h in first["holds"]] == ["released"]  # nothing known yet: the gift goes out
    label = outcome(client, "label", "farm-a", label="fraud")
    assert [c["offer_id"] for c in label["late_evidence"]["clawbacks"]] == ["newcomer_gift"]
    for account in farm[1:]:
        paid = outcome(client, "order_paid", account, amount=30, address=FARM_ADDRESS)  # "typed several ways": N
        assert paid["holds"] == []  # nothing released
        late = paid["late_evidence"]
        assert late["cause"] == "linked_at_checkout" and late["links"][0]["linked_customer"] == "farm-a"
        assert [v["offer"] for v in late["voided"]] == ["newcomer_gift"] and late["listed"] == ["watch"]
        view = customer_view(client, account)
        assert [o["status"] for o in view["offers"]] == ["voided"]
        assert [e["kind"] for e in view["lists"]] == ["watch"]
        assert view["late_evidence"][0]["cause"] == "linked_at_checkout"
    honest = score(client, "coupon_claim", "farm-neighbour", device="phone-9")
    assert honest["offers"][0]["status"] == "held"
    paid = outcome(client, "order_paid", "farm-neighbour", amount=30, address="上海市徐汇区漕溪北路88号")
    assert [h["status"] for h in paid["holds"]] == ["released"] and "late_evidence" not in paid


def test_yutang_worker_times_a_case_out_once_and_delivers_the_clawback_webhooks(
    client: httpx.Client, served: tuple[str, Path, dict[str, str]], hooks: Hooks
) -> None:
    score(client, "coupon_claim", "late-1")
    outcome(client, "order_paid", "late-1", amount=99)
    score(client, "red_packet_claim", "late-1", phone=VIRTUAL)
    case = open_case(client, "late-1")
    _, root, env = served
    environment = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    environment.update(env, YUTANG_SECRET=SECRET, YUTANG_BACKEND="python", YUTANG_DATA_DIR=str(root / "data"),
                       YUTANG_RULES=str(root / "review-pack"))  # fmt: skip
    command = [sys.executable, "-m", "engine.cli", "worker", "--poll", "0.3"]
    # one worker: racing timeouts deciding once is test_case_flow's (four at once)
    workers = [
        subprocess.Popen(command, cwd=root, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ]
    try:
        deadline = time.monotonic() + 30
        detail: dict[str, Any] = {}
        while time.monotonic() < deadline:
            detail = client.get(f"/v1/cases/{case['id']}", headers=auth()).json()
            delivered = [h for h in hooks.received if h.get("customer") == "late-1"]
            if detail["state"] == "denied" and detail["result"] and delivered:
                break
            time.sleep(0.3)
        assert detail["state"] == "denied" and detail["decided_via"] == "timeout", detail
        assert [e["action"] for e in detail["log"]] == ["deny"]  # one decision
        assert [(h["event"], h["offer_id"], h["cause"]) for h in hooks.received if h.get("customer") == "late-1"] == [
            ("clawback", "newcomer_gift", "case_denied")
        ]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGINT)
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()  # reaped: an unreaped Popen warns when collected, failing the next test
