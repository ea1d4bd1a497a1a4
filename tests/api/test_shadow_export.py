"""The shadow report and rule hits per tenant, and recorded events exported as a replay log."""

from __future__ import annotations

import asyncio
import json
import time

from engine.replay.judge import PackSource
from engine.replay.log import parse_line
from engine.replay.runner import replay
from tests.api.conftest import ALPHA_SCORE, BETA, PACK, auth, event

VIRTUAL = "17012345678"


async def claims(api, customer: str, times: int, **fields) -> list[dict]:
    return [
        (await api.post("/v1/score", json=event("coupon_claim", customer=customer, **fields), headers=auth())).json()
        for _ in range(times)
    ]


async def test_the_shadow_report_counts_events_whose_decision_the_shadow_rule_would_change(api):
    risky = await claims(api, "shadow-risky", 2, phone=VIRTUAL)  # 45 active: review; +30 shadow: deny
    honest = await claims(api, "shadow-honest", 2)  # 0 active; +30 shadow: still allow
    assert [b["decision"] for b in risky] == ["review", "review"] and risky[1]["shadow_decision"] == "deny"
    assert [b["decision"] for b in honest] == ["allow", "allow"] and honest[1]["shadow_decision"] == "allow"

    report = (await api.get("/v1/rules/shadow", headers=auth(ALPHA_SCORE))).json()
    assert report["version"] == risky[0]["ruleset_version"] and report["events"] == 4
    assert report["events_changed"] == 1 and report["share_changed"] == 0.25
    assert report["transitions"] == [{"from": "review", "to": "deny", "events": 1}]
    assert report["rules"] == [{"id": "many_claims_shadow", "hits": 2, "would_change": 1, "hit_share": 0.5}]

    hits = {r["id"]: r for r in (await api.get("/v1/rules/hits", headers=auth())).json()["rules"]}
    phone = {k: hits["virtual_phone"][k] for k in ("id", "mode", "hits", "file", "family")}
    assert phone == {"id": "virtual_phone", "mode": "active", "hits": 2, "file": "pack.yaml", "family": "pack"}
    assert hits["virtual_phone"]["reason_zh"] and hits["virtual_phone"]["reason_en"]  # the console shows them
    assert hits["many_claims_shadow"]["mode"] == "shadow" and hits["device_farm"]["hits"] == 0
    assert (await api.get("/v1/rules/shadow", headers=auth(BETA))).json()["events"] == 0  # another merchant


async def test_every_workers_counts_reach_the_report(make_api, redis_client):
    async with make_api() as first, make_api() as second:
        await claims(first, "w-risky", 2, phone=VIRTUAL)
        await claims(second, "w-risky2", 2, phone=VIRTUAL)
        deadline = time.monotonic() + 120  # each worker writes its counts every rules_poll_s (0.2 s here): a
        while True:  # loaded box may take seconds, so the wait is on the count, with a generous deadline
            report = (await first.get("/v1/rules/shadow", headers=auth())).json()
            if report["events"] == 4 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert report["events"] == 4 and report["events_changed"] == 2


async def test_export_is_off_unless_recording_is_enabled(api):
    r = await api.get("/v1/events/export", headers=auth())
    assert r.status_code == 409 and "YUTANG_RECORD_EVENTS" in r.json()["error"]["message"]


async def test_recorded_events_export_as_a_pseudonymized_log_that_replays_to_the_same_decisions(make_api, redis_client):
    async with make_api(record_events=True, record_max_events=1000) as api:
        live = []
        for number in range(4):  # four accounts on one device: the farm rule fires from the third
            body = event(
                "signup",
                customer=f"farm{number}",
                device="dev-farm-1",
                phone=f"1390000000{number}",
                ip=f"203.0.113.{10 + number}",
                email=f"alice{number}@example.com",
                address="  1 Nanjing Road  ",
            )
            live.append((await api.post("/v1/score", json=body, headers=auth())).json())
        label = event("label", customer="farm3", label="fraud")
        assert (await api.post("/v1/events", json=label, headers=auth())).status_code == 200
        repeated = live[0]["event_id"]
        again = event("signup", event_id=repeated, customer="farm0", device="dev-farm-1")
        await api.post("/v1/score", json=again, headers=auth())  # a retry: answered, not recorded twice

        r = await api.get("/v1/events/export", headers=auth())
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        assert r.headers["yutang-recorded-events"] == "5"
        text = r.text
        assert (await api.get("/v1/events/export", headers=auth(BETA))).text == ""  # per tenant
        assert (await api.get("/v1/events/export", headers=auth(ALPHA_SCORE))).status_code == 403

    for secret in ("13900000000", "203.0.113.", "alice", "Nanjing"):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["type"] for line in lines] == ["signup"] * 4 + ["label"]
    assert len({line["phone"] for line in lines[:4]}) == 4
    assert all(line["phone"].startswith("+86139") for line in lines[:4])  # E.164, the segment kept
    assert len({line["ip"].rsplit(".", 1)[0] for line in lines[:4]}) == 1  # one /24 stays one /24
    assert {line["email"].split("@")[1] for line in lines[:4]} == {"example.com"}
    assert len({line["address"] for line in lines[:4]}) == 1

    records = [parse_line(line, f"export:{n}") for n, line in enumerate(text.splitlines(), 1)]  # valid API events
    result = await replay(records, PackSource.read(str(PACK), "python"), in_process=True)
    live_mix: dict[str, int] = {}
    for body in live:
        live_mix[body["decision"]] = live_mix.get(body["decision"], 0) + 1
    assert {k: v for k, v in result.judged["new"]["decisions"].items() if v} == live_mix == {"allow": 2, "deny": 2}
    assert {r["rule"]: r["hits"] for r in result.judged["new"]["rules"]}["device_farm"] == 2


async def test_the_recording_keeps_only_the_newest_events(make_api, redis_client):
    async with make_api(record_events=True, record_max_events=3) as api:
        ids = []
        for _ in range(5):
            body = event("signup")
            ids.append(body["event_id"])
            await api.post("/v1/score", json=body, headers=auth())
        lines = (await api.get("/v1/events/export", headers=auth())).text.splitlines()
        assert [json.loads(line)["event_id"] for line in lines] == ids[2:]
        limited = (await api.get("/v1/events/export?limit=2", headers=auth())).text.splitlines()
        assert [json.loads(line)["event_id"] for line in limited] == ids[2:4]
