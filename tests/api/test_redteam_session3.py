"""Red team, session 3: what this session added (keys and roles, the audit trail, WeCom callbacks, identity
normalization, the client library, request ids and logs), attacked as a farmer or a hostile tenant would.

One real ``yutang serve`` (two workers, the shipped pack, keys of three tenants in every
role, WeCom callbacks for alpha and for gamma, which shares alpha's token and AES key
but not its corp id). Breaches these tests found, each fixed in the module it attacks:

- the client library pasted a customer id into the path as it was: ``customer("../keys")``
  (httpx resolves dot segments) sent the storefront's key to ``GET /v1/keys`` and handed
  the keys listing back as the "customer"; ``x/../../audit`` read the audit trail;
- a card number passed the ``payment`` check when dressed: ``card:4111...``,
  ``4111.1111.1111.1111``, full-width digits, zero-width spaces between the groups;
- one mailbox or phone typed in full-width characters or with a zero-width space inside
  was a new identity each time (one farm inbox split into as many "customers" as it
  likes, each with its own counters), or a 422 for a full-width phone.

What held is kept as cheap guards: the tests named ``..._held``.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.client import Yutang, YutangError
from tests.api.conftest import ALPHA, ALPHA_SCORE, BETA, auth, event
from tests.api.roles import MARKETER, PLATFORM, REVIEWER, ROLE_KEYS
from tests.api.serving import serve_on
from tests.api.wecom.test_callbacks import AES_KEY, CORP, TOKEN, contact_change, sealed

RULES = Path(__file__).resolve().parents[2] / "rules"
CALLBACKS = f"alpha={CORP}:{TOKEN}:{AES_KEY};gamma=ww00000000gamma:{TOKEN}:{AES_KEY}"
CARD = "4111111111111111"
PHONE, EMAIL = "13912345678", "redteam.mum@gmail.com"


def wide(text: str) -> str:
    """``text`` in full-width forms (what a Chinese input method types in full-width mode)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


@dataclass(frozen=True)
class Server:
    base: str
    log: Path

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def lines(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module", params=["embedded"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("redteam3")
    rules = root / "rules"
    shutil.copytree(RULES, rules)
    env = {"YUTANG_API_KEYS": ROLE_KEYS, "YUTANG_WECOM_CALLBACKS": CALLBACKS, "YUTANG_LOG_FORMAT": "json"}
    with serve_on(request, root, rules=rules, env=env) as base:
        yield Server(base, root / "serve.log")


def call(server: Server, method: str, path: str, key: str | None = ALPHA, **kw: Any) -> httpx.Response:
    headers = {**(auth(key) if key else {}), **kw.pop("headers", {})}
    return httpx.request(method, server.url(path), headers=headers, timeout=30, **kw)


# --- the client library ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", ["../keys", "x/../../audit", "../../v1/rules/files", "..", "a?format=jsonl"])
def test_a_hostile_customer_id_never_takes_the_client_outside_the_customer(server: Server, hostile: str) -> None:
    with Yutang(server.base, ALPHA) as yutang:
        try:
            answer = yutang.customer(hostile)
        except YutangError as err:
            assert err.status == 404, err
            return
    assert answer.get("customer") == hostile, answer  # the customer it asked for, never another route's answer
    assert not {"keys", "entries", "files"} & answer.keys()


def test_an_ordinary_customer_id_with_dots_is_still_read(server: Server) -> None:
    body = event("signup", customer="mum.li@wx", device="rt3-dv-dots")
    assert call(server, "POST", "/v1/score", json=body).status_code == 200
    with Yutang(server.base, ALPHA) as yutang:
        assert yutang.customer("mum.li@wx")["customer"] == "mum.li@wx"


# --- identities -----------------------------------------------------------------------------------------------

DRESSED_CARDS = [f"card:{CARD}", "4111.1111.1111.1111", wide("4111111111111111"), "4111\u200b1111\u200b1111\u200b1111",
                 f"tok_{CARD}", f"+{CARD}", "4111/1111/1111/1111"]  # fmt: skip


@pytest.mark.parametrize("payment", DRESSED_CARDS)
def test_a_card_number_in_any_dress_is_refused_and_never_echoed(server: Server, payment: str) -> None:
    body = event("order", customer="rt3-buyer", amount=99, payment=payment)
    answer = call(server, "POST", "/v1/score", json=body)
    assert answer.status_code == 422, answer.text
    assert [f["field"] for f in answer.json()["error"]["fields"]] == ["payment"]
    assert "1111" not in answer.text


def test_no_phone_email_card_or_key_reaches_the_log(server: Server) -> None:
    body = event(
        "signup", customer="rt3-pii", phone=PHONE, email=EMAIL, ip="203.0.113.77", address="杭州市西湖区文三路100号"
    )
    assert call(server, "POST", "/v1/score", json=body).status_code == 200
    call(server, "POST", "/v1/score", json=event("order", customer="rt3-pii", amount=1, payment=CARD))
    call(server, "GET", "/v1/whoami", key="not-a-key-" + PLATFORM)  # a wrong key, logged as a 401
    text = server.lines()
    for secret in (PHONE, EMAIL, "203.0.113.77", "文三路", CARD, PLATFORM, ALPHA):
        assert secret not in text, secret


# --- keys, roles and tenants ----------------------------------------------------------------------------------


def test_a_made_key_stays_in_its_tenant_and_cannot_be_forged_for_another_held(server: Server) -> None:
    made = call(server, "POST", "/v1/keys", json={"scopes": ["score"], "label": "till 2"})
    assert made.status_code == 201, made.text
    key, key_id = made.json()["key"], made.json()["id"]
    _, tenant, random = key.split("~")
    assert tenant == "alpha"
    assert call(server, "GET", "/v1/whoami", key=f"ytk~beta~{random}").status_code == 401  # retargeted: no such key
    assert call(server, "GET", "/v1/whoami", key=key, headers={"X-Yutang-Tenant": "beta"}).status_code == 403
    assert call(server, "DELETE", f"/v1/keys/{key_id}", key=BETA).status_code == 404  # beta cannot revoke it
    assert key_id not in call(server, "GET", "/v1/keys", key=BETA).text
    assert call(server, "GET", "/v1/whoami", key=key).json()["tenant"] == "alpha"  # still live
    for role in ("platform", "PLATFORM", " platform"):  # no spelling of platform is minted
        assert call(server, "POST", "/v1/keys", json={"role": role}).status_code == 422
    for weaker in (MARKETER, REVIEWER, ALPHA_SCORE):  # no lesser key mints one
        assert call(server, "POST", "/v1/keys", key=weaker, json={"role": "admin"}).status_code == 403


def test_an_unknown_key_id_and_another_tenants_key_id_answer_alike_held(server: Server) -> None:
    beta_key = call(server, "POST", "/v1/keys", key=BETA, json={"scopes": ["events"]}).json()["id"]
    theirs = call(server, "DELETE", f"/v1/keys/{beta_key}")
    nobodys = call(server, "DELETE", f"/v1/keys/{secrets.token_hex(6)}")
    assert (theirs.status_code, nobodys.status_code) == (404, 404)
    assert theirs.json()["error"]["message"].replace(beta_key, "?") == nobodys.json()["error"]["message"].replace(
        nobodys.url.path.rsplit("/", 1)[1], "?"
    )


# --- the audit trail ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [{"cursor": "0-0"}, {"cursor": "999999999999999-9999999999"}, {"cursor": "1-0\n"}, {"action": "rules.reload\n"},
     {"action": "*"}, {"actor": "system"}, {"since": "2026-12-02T00:00:00Z", "until": "2020-01-01T00:00:00Z"},
     {"since": "1900-01-01T00:00:00Z"}, {"limit": "0"}, {"limit": "501"}, {"format": "csv"},
     {"cursor": "1-0", "format": "jsonl"}],
)  # fmt: skip
def test_hostile_audit_queries_are_a_4xx_or_a_page_never_a_5xx_held(server: Server, query: dict[str, str]) -> None:
    answer = call(server, "GET", "/v1/audit", params=query)
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert answer.json()["error"]["fields"], answer.text


def test_a_key_label_cannot_forge_an_audit_entry_and_no_lesser_key_reads_the_trail_held(server: Server) -> None:
    forged = '","actor":"system","role":"platform'
    made = call(server, "POST", "/v1/keys", json={"scopes": ["score"], "label": forged[:64]})
    assert made.status_code == 201, made.text
    assert call(server, "POST", "/v1/keys", json={"scopes": ["score"], "label": 'x\n{"actor":1}'}).status_code == 422
    entry = next(e for e in call(server, "GET", "/v1/audit", params={"action": "keys.create"}).json()["entries"]
                 if e["target"] == made.json()["id"])  # fmt: skip
    assert (entry["actor"], entry["role"], entry["details"]["label"]) != ("system", "platform", None)
    assert entry["actor"] == call(server, "GET", "/v1/whoami").json()["key_id"]
    for lesser in (MARKETER, REVIEWER, ALPHA_SCORE):
        assert call(server, "GET", "/v1/audit", key=lesser).status_code == 403
    assert call(server, "GET", "/v1/audit", key=BETA, headers={"X-Yutang-Tenant": "alpha"}).status_code == 403
    assert made.json()["id"] not in call(server, "GET", "/v1/audit", key=BETA).text


# --- WeCom callbacks ------------------------------------------------------------------------------------------


def wecom(server: Server, tenant: str, query: dict[str, str], body: str | bytes) -> httpx.Response:
    return httpx.post(server.url(f"/v1/wecom/{tenant}/callback"), params=query, content=body, timeout=30,
                      headers={"Content-Type": "text/xml"})  # fmt: skip


def contacts(server: Server, customer: str, key: str = ALPHA) -> list[Any]:
    return list(call(server, "GET", f"/v1/customers/{customer}", key=key).json()["wecom_contacts"])


def test_a_callback_replayed_under_a_tenant_sharing_the_token_and_key_is_refused_held(server: Server) -> None:
    query, body = sealed(contact_change("add_external_contact", customer="wmRT3CROSS"))
    refused = wecom(server, "gamma", query, body)  # same token and AES key, another corp id
    assert refused.status_code == 401, refused.text
    gamma_admin = "gamma-admin-key-0123456789"
    assert contacts(server, "wmRT3CROSS", gamma_admin) == []
    assert wecom(server, "alpha", query, body).status_code == 200  # the message is alpha's
    assert [c["staff"] for c in contacts(server, "wmRT3CROSS")] == ["zhangsan"]


def test_a_captured_signature_does_not_cover_a_new_nonce_or_timestamp_held(server: Server) -> None:
    query, body = sealed(contact_change("del_follow_user", customer="wmRT3NONCE"))
    for changed in ({"nonce": "abc123"}, {"timestamp": str(int(time.time()) + 5)}):
        assert wecom(server, "alpha", {**query, **changed}, body).status_code == 401
    assert contacts(server, "wmRT3NONCE") == []


@pytest.mark.parametrize("attack", ["oversized", "deep_nesting", "inner_entities", "unconfigured_tenant"])
def test_hostile_callback_bodies_are_4xx_fast_and_record_nothing_held(server: Server, attack: str) -> None:
    query, body = sealed(contact_change("del_follow_user", customer="wmRT3BODY"))
    tenant, expected = "alpha", {400}
    if attack == "oversized":
        body, expected = "<xml><Encrypt>" + "A" * 2_000_000 + "</Encrypt></xml>", {413}
    elif attack == "deep_nesting":
        body = "<a>" * 9_000 + "</a>" * 9_000  # under the 64 KiB body limit
    elif attack == "inner_entities":  # a message signed and sealed with the right keys, an entity bomb inside
        bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
                "<xml><MsgType>event</MsgType><Event>&b;</Event></xml>")  # fmt: skip
        query, body = sealed(bomb)
    else:
        tenant, expected = "beta", {401}  # answered as a forged signature: no list of tenants with WeCom
    started = time.monotonic()
    answer = wecom(server, tenant, query, body)
    assert answer.status_code in expected, answer.text[:300]
    assert time.monotonic() - started < 5
    assert contacts(server, "wmRT3BODY") == []


# --- request ids, traceparent and the tenant header -----------------------------------------------------------

HOSTILE_IDS = ['rt3"}{"level":"CRITICAL', "rt3\x1b[31mred", "rt3-" + "x" * 200, "rt3 spaced id", "-rt3-leading"]


@pytest.mark.parametrize("sent", HOSTILE_IDS)
def test_a_hostile_request_id_is_replaced_not_echoed_or_logged_held(server: Server, sent: str) -> None:
    answer = call(server, "GET", "/v1/whoami", headers={"X-Request-Id": sent})
    if "\x1b" in sent:  # a control character in a header: the HTTP parser refuses the request before the app
        assert answer.status_code == 400
    else:
        assert answer.status_code == 200 and answer.headers["X-Request-Id"] != sent
        assert len(answer.headers["X-Request-Id"]) == 32
    assert sent not in server.lines()


def test_a_malformed_traceparent_is_dropped_and_a_foreign_tenant_header_never_reaches_the_log_held(
    server: Server,
) -> None:
    bad = "00-" + "a" * 32 + "-" + "b" * 16 + "-01\x1b[2J"
    answer = call(server, "GET", "/v1/whoami", headers={"traceparent": bad})
    assert "traceparent" not in answer.headers
    marker = 'rt3evil"}{"level":"CRITICAL'
    refused = call(server, "GET", "/v1/whoami", key=ALPHA_SCORE, headers={"X-Yutang-Tenant": marker})
    assert refused.status_code == 403
    assert "rt3evil" not in server.lines() and "\x1b" not in server.lines()
    assert answer.status_code in (200, 400)  # a control character in a header: the HTTP parser's 400


# --- coupon bindings and store devices ------------------------------------------------------------------------


def test_a_farmer_cannot_join_a_group_or_register_a_counter_device_through_the_scoring_key_held(
    server: Server,
) -> None:
    joined = event("member_joined", customer="rt3-outsider", group="parents-09")
    assert call(server, "POST", "/v1/score", key=ALPHA_SCORE, json=joined).status_code == 422
    assert call(server, "POST", "/v1/events", key=ALPHA_SCORE, json=joined).status_code == 403
    device = {"device": "rt3-farm-phone", "label": "前台iPad"}
    for lesser in (ALPHA_SCORE, MARKETER, REVIEWER):
        assert call(server, "POST", "/v1/devices", key=lesser, json=device).status_code == 403
    entry = {"entity": "device", "value": "rt3-farm-phone", "kind": "store", "reason": "x"}
    assert call(server, "POST", "/v1/lists/entries", key=ALPHA_SCORE, json=entry).status_code == 403
    claim = event("coupon_claim", customer="rt3-outsider", coupon="QUN09-RT3X", amount=20, group="parents-09",
                  device="rt3-farm-phone", attributes={"is_store": True})  # fmt: skip
    scored = call(server, "POST", "/v1/score", key=ALPHA_SCORE, json=claim).json()
    assert "code_outside_binding" in [r["rule"] for r in scored["reasons"]], scored


def test_a_spoofed_counter_device_id_lets_no_claim_farm_through_held(server: Server) -> None:
    """A device id is a claim: a farm that learns the counter tablet's id gets its sign-ups through, never claims."""
    assert call(server, "POST", "/v1/devices", json={"device": "rt3-counter", "label": "前台iPad"}).status_code == 201
    decisions = {}
    for device in ("rt3-counter", "rt3-farm-tablet"):
        for n in range(6):
            for type_ in ("signup", "coupon_claim"):
                body = event(type_, customer=f"rt3-{device}-{n}", device=device, amount=20, campaign="weekly_welfare")
                answer = call(server, "POST", "/v1/score", key=ALPHA_SCORE, json=body).json()
                decisions[device, type_, n] = answer["decision"]
    last = 5  # the sixth account on one device: the farm rules have tripped
    assert decisions["rt3-farm-tablet", "coupon_claim", last] != "allow"
    assert decisions["rt3-counter", "coupon_claim", last] == decisions["rt3-farm-tablet", "coupon_claim", last]
    assert decisions["rt3-counter", "signup", last] == "allow"  # walk-in sign-ups at the counter: what it is for
