"""The console's JSON endpoints over HTTP: a dry run changes nothing; a replay is bounded and checked."""

from __future__ import annotations

import json

from tests.api.conftest import ALPHA_SCORE, auth, event
from tests.api.test_rules import pack_files


async def test_a_dry_run_explains_and_records_nothing(api):
    claim = event("coupon_claim", customer="dry-customer", phone="17000000003")
    first = (await api.post("/v1/console/dry-run", json=claim, headers=auth())).json()
    again = (await api.post("/v1/console/dry-run", json={**claim, "event_id": "other"}, headers=auth())).json()
    assert first["dry_run"] is True and first["decision"] == "review"
    assert [r["rule"] for r in first["reasons"]] == ["virtual_phone"]
    assert first["features"]["customer.claims_24h"] == again["features"]["customer.claims_24h"] == 0  # not counted
    live = (await api.post("/v1/score", json=claim, headers=auth())).json()
    assert live["shadow"] == []  # the two dry runs left no claims behind: this is the first
    signup = (await api.post("/v1/console/dry-run", json=event("signup"), headers=auth())).json()
    assert signup["eligible_offers"] == [{"offer": "newcomer_coupon", "label": "新人券"}]
    budgets = (await api.get("/v1/reports/offers", headers=auth())).json()["offers"]
    assert next(o for o in budgets if o["offer"] == "newcomer_coupon")["used"] == 0  # nothing granted
    assert (await api.post("/v1/console/dry-run", json=claim, headers=auth(ALPHA_SCORE))).status_code == 403


async def test_a_console_replay_compares_with_the_previous_version_and_refuses_bad_logs(api):
    log = "\n".join(json.dumps(event("signup", phone="17000000004")) for _ in range(3))
    alone = await api.post("/v1/rules/replay", json={"log": log, "baseline": "previous"}, headers=auth())
    assert alone.status_code == 422 and "not a kept version" in alone.json()["error"]["message"]
    await api.post("/v1/rules/reload", json={"files": pack_files(10)}, headers=auth())
    r = (await api.post("/v1/rules/replay", json={"log": log, "baseline": "previous"}, headers=auth())).json()
    assert r["events"] == 3 and r["new"]["decisions"]["allow"] == 3
    assert r["diff"]["changed_decisions"] == 3 and r["diff"]["moves"] == {"review->allow": 3}

    bad = await api.post("/v1/rules/replay", json={"log": log + '\n{"type": "signup"}'}, headers=auth())
    assert bad.status_code == 422 and "line 4" in bad.json()["error"]["message"]
    huge = "\n".join([json.dumps(event("signup"))] * 5001)
    r = await api.post("/v1/rules/replay", json={"log": huge}, headers=auth())
    assert r.status_code == 422 and "at most 5000 events" in r.json()["error"]["message"]
