"""Community health through POST /v1/events and the worker: split, dead group, noisy staff, KPIs."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from journey_helpers import HOOK_SECRET, LOCAL_HOOKS, Receiver, crm_server, day, pack_with_hook, worker_for

KEY = "group-admin-key-01234567890"
H = {"Authorization": f"Bearer {KEY}"}
_n = iter(range(1_000_000))


async def group_event(api: Any, type_: str, group: str, customer: str, at: Any, **fields: Any) -> dict[str, Any]:
    body = {"event_id": f"g{next(_n)}", "type": type_, "customer": customer, "group": group,
            "timestamp": at.isoformat(), **fields}  # fmt: skip
    response = await api.post("/v1/events", json=body, headers=H)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_week_of_two_parent_groups(make_api: Any, tenant: str, tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("YUTANG_WEBHOOK_SECRET_STUDIO_CRM", HOOK_SECRET)
    receiver = Receiver()
    with crm_server(receiver) as url:
        async with (
            make_api(
                rules_path=pack_with_hook(tmp_path, url),
                api_keys=f"{KEY}:{tenant}:score+events+admin",
                webhook_hosts=LOCAL_HOOKS,
                trust_event_time=True,  # a simulated week through the HTTP API
            ) as api,
            worker_for(api) as worker,
        ):
            await week(api, worker, receiver)


async def week(api: Any, worker: Any, receiver: Receiver) -> None:
    # Monday 30 Nov .. Sunday 6 Dec: g1 grown by fission from a mother's circle, g2 opened by staff
    await group_event(api, "group_created", "g1", "mum_a", day(0), attributes={"source": "fission"})
    await group_event(api, "group_created", "g2", "staff_li", day(0), attributes={"source": "staff"})
    for i in range(50):
        answer = await group_event(api, "member_joined", "g1", f"p{i}", day(1, 12, i), referrer="mum_a")
        assert "signals" not in answer  # 50 is still a good size
    answer = await group_event(api, "member_joined", "g1", "p50", day(1, 13))
    assert [s["signal"] for s in answer["signals"]] == ["split_suggested"]
    await group_event(api, "member_left", "g1", "p49", day(1, 14))
    for i in range(5):
        await group_event(api, "member_joined", "g2", f"q{i}", day(1, 12, i))
    # red-packet tests: g1's 3 shares all grabbed in a minute, g2's 10 shares only 4 in 6 minutes
    await group_event(api, "red_packet_sent", "g1", "staff_li", day(2, 20), attributes={"packet": "rp1", "shares": 3})
    for i in range(3):
        await group_event(api, "red_packet_claimed", "g1", f"p{i}", day(2, 20, 1), attributes={"packet": "rp1"})
    await group_event(api, "red_packet_sent", "g2", "staff_li", day(2, 20), attributes={"packet": "rp2", "shares": 10})
    for i in range(4):
        await group_event(api, "red_packet_claimed", "g2", f"q{i}", day(2, 20, 2), attributes={"packet": "rp2"})
    assert await worker.run_once(now=(day(2, 20) + timedelta(minutes=5, seconds=59)).timestamp()) == Counter()
    done = await worker.run_once(now=(day(2, 20) + timedelta(minutes=6)).timestamp())
    assert done == Counter({"red_packet_passed": 1, "red_packet_failed": 1, "webhook_delivered": 1})
    assert receiver.accepted()[0]["body"] | {"at": ""} == {
        "event": "community.signal", "group": "g2", "signal": "going_dead", "rule": "red_packet_test_failed",
        "customer": "group:g2", "tier": "", "at": ""}  # fmt: skip
    # staff push three times in a week: too noisy, and the group cap refuses the next push
    for d in (3, 4):
        answer = await group_event(api, "staff_message", "g1", "staff_li", day(d, 10))
        assert "signals" not in answer
    answer = await group_event(api, "staff_message", "g1", "staff_li", day(5, 10))
    assert [s["signal"] for s in answer["signals"]] == ["too_noisy"]
    refused = await api.post(
        "/v1/contacts", json={"customer": "group:g1", "channel": "group_message", "at": day(5, 11).isoformat()},
        headers=H,
    )  # fmt: skip
    assert refused.json()["allowed"] is False and refused.json()["reason"] == "cap"
    g1 = (await api.get("/v1/groups/g1", params={"at": day(5, 11).isoformat()}, headers=H)).json()
    assert g1["health"] == {"members": 50, "joined_7d": 51, "left_7d": 1, "staff_messages_7d": 3}
    assert [s["signal"] for s in g1["signals"]] == ["split_suggested", "too_noisy"]
    g2 = (await api.get("/v1/groups/g2", headers=H)).json()
    assert [s["signal"] for s in g2["signals"]] == ["going_dead"]
    # the weekly review: 1 fission group; g1 active (g2 failed its red-packet test); 51 followers via g1
    report = (await api.get("/v1/reports/kpis?period=week&date=2026-12-02", headers=H)).json()
    assert (report["fission_groups"], report["active_groups"], report["new_followers_active"]) == (1, 1, 51)
    daily = (await api.get("/v1/reports/kpis?period=day&date=2026-12-01&format=csv", headers=H)).text
    assert "fission_groups,0\n" in daily and "active_groups,2\n" in daily and "new_followers_active,56\n" in daily
    metrics = (await api.get("/metrics")).text
    assert 'yutang_store_kpi{kpi="active_groups",period="day"} 2.0' in metrics
