"""WeCom callbacks, driven by wechatpy's enterprise crypto: an implementation of WeCom's scheme not ours.

Each test posts what WeCom would post (or what an attacker would: a bad signature, an
old callback sent again, a body that is not XML) to a real app on the real Redis and
checks what a merchant sees afterwards: the customer's WeCom contacts, the week's
report, group health, and that a refused callback left nothing behind.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from wechatpy.crypto import PrpCrypto, _get_signature
from wechatpy.enterprise.crypto import WeChatCrypto

from engine.wecom.ledger import iso_week
from tests.api.conftest import BETA, MakeApi, auth

CORP = "ww5a3e1c0ffee00001"
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
OTHER_AES_KEY = "a" * 43
CALLBACKS = f"alpha={CORP}:{TOKEN}:{AES_KEY};beta=ww000beta:{TOKEN}:{OTHER_AES_KEY}"
WECOM = WeChatCrypto(TOKEN, AES_KEY, CORP)
SHIPPED = Path(__file__).parents[3] / "rules"  # its community section keeps group health


@pytest.fixture
async def api(make_api: MakeApi, redis_client: Redis) -> AsyncIterator[httpx.AsyncClient]:  # an empty Redis
    async with make_api(wecom_callbacks=CALLBACKS, rules_path=SHIPPED) as client:
        yield client


def contact_change(change: str, *, staff: str = "zhangsan", customer: str = "wmEXT001", at: int | None = None) -> str:
    return f"""<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>{at or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[{change}]]></ChangeType>
<UserID><![CDATA[{staff}]]></UserID><ExternalUserID><![CDATA[{customer}]]></ExternalUserID>
<State><![CDATA[poster-dec]]></State></xml>"""


def chat_change(detail: str, members: list[str], *, chat: str = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA") -> str:
    items = "".join(f"<Item><![CDATA[{m}]]></Item>" for m in members)
    scene = "<JoinScene>3</JoinScene>" if detail == "add_member" else "<QuitScene>0</QuitScene>"
    return f"""<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[{chat}]]></ChatId>
<ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[{detail}]]></UpdateDetail>{scene}
<MemChangeCnt>{len(members)}</MemChangeCnt><MemChangeList>{items}</MemChangeList></xml>"""


def sealed(message: str, *, timestamp: int | None = None, crypto: WeChatCrypto = WECOM) -> tuple[dict[str, str], str]:
    """WeCom's POST: the query it signs and the XML body, encrypted by wechatpy."""
    stamp, nonce = str(timestamp or int(time.time())), secrets.token_hex(5)
    xml = crypto.encrypt_message(message, nonce, stamp)
    encrypt = xml.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = xml.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    body = f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>" \
           "<AgentID><![CDATA[1000002]]></AgentID></xml>"  # fmt: skip
    return {"msg_signature": signature, "timestamp": stamp, "nonce": nonce}, body


async def post(api: httpx.AsyncClient, message: str, *, tenant: str = "alpha", **kw: object) -> httpx.Response:
    query, body = sealed(message, **kw)  # type: ignore[arg-type]
    return await api.post(f"/v1/wecom/{tenant}/callback", params=query, content=body,
                          headers={"Content-Type": "text/xml"})  # fmt: skip


async def report(api: httpx.AsyncClient) -> dict[str, object]:
    response = await api.get("/v1/wecom/report", params={"week": iso_week(datetime.now(UTC))}, headers=auth())
    assert response.status_code == 200, response.text
    return response.json()


async def test_url_verification_answers_the_decrypted_echostr_and_refuses_a_forged_one(api: httpx.AsyncClient) -> None:
    stamp, nonce = str(int(time.time())), "1372623149"
    echostr = PrpCrypto(WECOM.key).encrypt("7423587823478523", CORP).decode()
    query = {"msg_signature": _get_signature(TOKEN, stamp, nonce, echostr), "timestamp": stamp, "nonce": nonce,
             "echostr": echostr}  # fmt: skip
    ok = await api.get("/v1/wecom/alpha/callback", params=query)
    assert (ok.status_code, ok.text) == (200, "7423587823478523")
    forged = await api.get("/v1/wecom/alpha/callback", params={**query, "msg_signature": "0" * 40})
    assert forged.status_code == 401 and "signature" in forged.json()["error"]["message"]
    # a tenant without WeCom (or no such tenant) answers exactly as a forged signature does:
    # an unauthenticated caller cannot list which merchants exist or which use WeCom
    for unknown in ("gamma", "no-such-merchant"):
        refused = await api.get(f"/v1/wecom/{unknown}/callback", params={**query, "msg_signature": "0" * 40})
        assert refused.status_code == 401 and refused.json()["error"]["message"] == forged.json()["error"][
            "message"
        ].replace("alpha", unknown)
        assert (await api.get(f"/v1/wecom/{unknown}/callback", params=query)).status_code == 401


async def test_a_customer_deleting_the_staff_member_is_recorded_once_however_often_wecom_retries(
    api: httpx.AsyncClient,
) -> None:
    added = await post(api, contact_change("add_external_contact"))
    assert (added.status_code, added.text) == (200, "success")
    deletion = contact_change("del_follow_user", at=int(time.time()) + 1)
    for _ in range(3):  # WeCom resends until it hears "success": each resend is signed afresh
        answer = await post(api, deletion)
        assert (answer.status_code, answer.text) == (200, "success")
    customer = (await api.get("/v1/customers/wmEXT001", headers=auth())).json()
    assert [(c["staff"], c["state"]) for c in customer["wecom_contacts"]] == [("zhangsan", "deleted_by_customer")]
    week = await report(api)
    assert week["staff"] == [
        {"staff": "zhangsan", "added": 1, "deleted_by_customer": 1, "deleted_by_staff": 0, "deletion_rate": 1.0}
    ]
    metrics = (await api.get("/metrics")).text
    kind = 'kind="change_external_contact/del_follow_user"'
    assert f'yutang_wecom_callbacks_total{{{kind},result="duplicate"}} 2.0' in metrics
    # the deletion is an outcome event like any other: the same id cannot be reused for another body
    reuse = {"event_id": customer_event_id(deletion), "type": "contact_deleted", "customer": "someone-else"}
    assert (await api.post("/v1/events", headers=auth(), json=reuse)).status_code == 409


def customer_event_id(message: str) -> str:
    from engine.wecom.messages import message_id

    return message_id(message.encode())


async def test_members_joining_and_leaving_a_customer_group_move_its_health_and_churn(api: httpx.AsyncClient) -> None:
    chat = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
    assert (await post(api, chat_change("add_member", ["wmA", "wmB", "wmC"]))).status_code == 200
    assert (await post(api, chat_change("del_member", ["wmB"]))).status_code == 200
    health = (await api.get(f"/v1/groups/{chat}", headers=auth())).json()["health"]
    assert (health["members"], health["joined_7d"], health["left_7d"]) == (2, 3, 1), health
    groups = (await report(api))["groups"]
    assert groups == [{"group": chat, "joined": 3, "left": 1, "net": 2, "churn": 0.3333, "dismissed": False}]


@pytest.mark.parametrize(
    "attack",
    ["bad_signature", "old_callback", "other_tenants_key", "not_xml", "xml_bomb", "inner_not_xml", "no_encrypt"],
)
async def test_a_refused_callback_is_a_4xx_and_records_nothing(api: httpx.AsyncClient, attack: str) -> None:
    message = contact_change("del_follow_user", customer="wmVICTIM")
    query, body = sealed(message)
    tenant = "alpha"
    if attack == "bad_signature":
        query["msg_signature"] = "f" * 40
        expected = 401
    elif attack == "old_callback":  # captured ten minutes ago, sent again: its signed timestamp gives it away
        query, body = sealed(message, timestamp=int(time.time()) - 600)
        expected = 422
    elif attack == "other_tenants_key":  # beta's receiver must not take alpha's WeCom traffic
        tenant, expected = "beta", 401
    elif attack == "not_xml":
        body, expected = "{not xml", 400
    elif attack == "xml_bomb":
        body = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                "<xml><Encrypt>&b;</Encrypt></xml>")  # fmt: skip
        expected = 400
    elif attack == "inner_not_xml":
        query, body = sealed("this is not xml <<<")
        expected = 400
    else:
        body, expected = "<xml><ToUserName>x</ToUserName></xml>", 400
    response = await api.post(f"/v1/wecom/{tenant}/callback", params=query, content=body)
    assert response.status_code == expected, response.text
    assert response.json()["error"]["code"]
    customer = (await api.get("/v1/customers/wmVICTIM", headers=auth())).json()
    assert customer["wecom_contacts"] == []
    assert (await report(api))["staff"] == []
    beta_view = await api.get("/v1/wecom/report", headers=auth(BETA))
    assert beta_view.json()["staff"] == []


async def test_the_report_is_the_callers_tenant_only(api: httpx.AsyncClient) -> None:
    await post(api, contact_change("add_external_contact", staff="lisi"))
    assert [row["staff"] for row in (await report(api))["staff"]] == ["lisi"]
    beta = await api.get("/v1/wecom/report", headers=auth(BETA))
    assert beta.status_code == 200 and beta.json()["staff"] == []
    assert (await api.get("/v1/wecom/report")).status_code == 401
