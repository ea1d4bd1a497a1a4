"""POST /v1/contacts: the pack's caps and quiet hours, and the history in the customer view."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.api.conftest import ALPHA_EVENTS, auth

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_group_message_cap_and_next_allowed(api):
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI).isoformat()
    answers = []
    for _ in range(3):
        body = {"customer": "mum-chen", "channel": "group_message", "at": noon}
        r = await api.post("/v1/contacts", json=body, headers=auth(ALPHA_EVENTS))
        assert r.status_code == 200, r.text
        answers.append(r.json())
    assert [a["allowed"] for a in answers] == [True, True, False]
    assert answers[2]["next_allowed_at"] and answers[2]["tier"] == "occasional"
    view = (await api.get("/v1/customers/mum-chen", headers=auth())).json()
    assert len(view["contacts"]) == 2


async def test_quiet_hours_refuse_until_morning(api):
    night = datetime(2026, 11, 24, 23, 0, tzinfo=SHANGHAI).isoformat()
    body = {"customer": "mum-he", "channel": "group_message", "at": night}
    answer = (await api.post("/v1/contacts", json=body, headers=auth())).json()
    assert answer["allowed"] is False and answer["next_allowed_at"]
    assert datetime.fromisoformat(answer["next_allowed_at"]).astimezone(SHANGHAI).hour == 8


async def test_bad_contact_requests_name_the_field(api):
    for body, field in [
        ({"channel": "group_message"}, "customer"),
        ({"customer": "c1", "channel": "Group Message"}, "channel"),
        ({"customer": "c1", "channel": "group_message", "tier": "platinum"}, "tier"),
    ]:
        r = await api.post("/v1/contacts", json=body, headers=auth())
        assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == field, r.text
