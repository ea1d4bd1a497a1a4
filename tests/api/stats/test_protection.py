"""``GET /v1/stats/protection`` against real Redis: exact counts for a known stream, tenants apart, local days.

The small pack (tests/api/packs/small, Asia/Shanghai): a sign-up gets the 20-yuan
newcomer coupon unless risk says review (a virtual operator number, +45) or deny
(the seeded farm device); a red-packet claim gets 5 yuan.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from redis.asyncio import Redis

from tests.api.conftest import ALPHA, BETA, PACK, MakeApi, auth, event
from tests.api.roles import MARKETER, PLATFORM, REVIEWER, ROLE_KEYS

SHANGHAI = ZoneInfo("Asia/Shanghai")
STATS = "/v1/stats/protection"


async def _score(api: httpx.AsyncClient, key: str = ALPHA, **fields: Any) -> dict[str, Any]:
    response = await api.post("/v1/score", json=event(**fields), headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _stream(api: httpx.AsyncClient, key: str = ALPHA) -> None:
    """Two allowed sign-ups (one coupon each), one reviewed, one denied, one red packet."""
    await _score(api, key, device="d-honest-1", phone="13812345678")
    await _score(api, key, device="d-honest-2", phone="13912345678")
    reviewed = await _score(api, key, device="d-virtual", phone="17012345678")
    assert reviewed["decision"] == "review"
    denied = await _score(api, key, device="seeded-farm-device")
    assert denied["decision"] == "deny"
    await _score(api, key, type_="red_packet_claim", device="d-packet")


async def _report(api: httpx.AsyncClient, key: str = ALPHA, **params: str) -> dict[str, Any]:
    response = await api.get(STATS, params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_counts_are_exact_for_a_known_stream(make_api: MakeApi) -> None:
    async with make_api() as api:
        await _stream(api)
        report = await _report(api)
    today = report["today"]
    assert report["live"] and report["timezone"] == "Asia/Shanghai"
    assert report["day"] == datetime.now(SHANGHAI).date().isoformat()
    assert today["totals"] == {
        "events": 5, "allow": 3, "review": 1, "deny": 1,
        "granted": 3, "granted_value": 45.0, "withheld": 2, "withheld_value": 40.0,
    }  # fmt: skip
    hour = datetime.now(SHANGHAI).hour
    assert today["series"]["events"][hour] == 5 and sum(today["series"]["events"]) == 5
    assert today["series"]["withheld_value"][hour] == 40.0
    assert report["last_week"]["totals"]["events"] == 0
    families = {f["family"]: f for f in report["families"]}
    hits = {r["rule"]: r for r in families["pack"]["rules"]}
    assert hits["virtual_phone"]["hits"] == 1 and hits["virtual_phone"]["text_en"] == "virtual operator number"
    assert hits["blocked_device"]["hits"] == 1 and hits["blocked_device"]["code"] == 1002
    offers = {o["offer"]: o for o in report["offers"]}
    coupon = offers["newcomer_coupon"]
    assert (coupon["granted"], coupon["withheld"], coupon["total"], coupon["used"], coupon["remaining"]) == (
        2,
        2,
        5,
        2,
        3,
    )
    assert offers["vip_privilege"]["total"] is None  # no cap: the dashboard draws ∞


async def test_a_retried_event_is_counted_once(api: httpx.AsyncClient) -> None:
    body = event(device="d-retry", phone="13812345670")
    for _ in range(3):
        assert (await api.post("/v1/score", json=body, headers=auth())).status_code == 200
    totals = (await _report(api))["today"]["totals"]
    assert (totals["events"], totals["granted"], totals["granted_value"]) == (1, 1, 20.0)


async def test_tenants_are_apart(make_api: MakeApi) -> None:
    async with make_api(api_keys=ROLE_KEYS) as api:
        await _stream(api)
        await _score(api, BETA, device="d-beta", phone="13812345671")
        alpha, beta = await _report(api), await _report(api, BETA)
        assert (alpha["tenant"], alpha["today"]["totals"]["events"]) == ("alpha", 5)
        assert (beta["tenant"], beta["today"]["totals"]["events"]) == ("beta", 1)
        assert beta["offers"][0]["used"] == 1  # beta's budget, not alpha's
        named = await api.get(STATS, headers={**auth(ALPHA), "X-Yutang-Tenant": "beta"})
        assert named.status_code == 403, named.text
        platform = await api.get(STATS, headers={**auth(PLATFORM), "X-Yutang-Tenant": "beta"})
        assert platform.status_code == 200 and platform.json()["today"]["totals"]["events"] == 1
        for reader in (MARKETER, REVIEWER):  # every role that reads decisions
            assert (await _report(api, reader))["today"]["totals"]["events"] == 5


async def test_bad_days_are_4xx_naming_the_field(api: httpx.AsyncClient) -> None:
    today = datetime.now(SHANGHAI).date()
    for day in ("2026-13-01", "yesterday", "x" * 5000, "0001-01-01", str(today + timedelta(days=1)),
                str(today - timedelta(days=36)), "2026-02-30", "../../2026-01-01", "\u0661\u0662"):  # fmt: skip
        response = await api.get(STATS, params={"day": day}, headers=auth())
        assert response.status_code == 422, (day, response.text)
        assert "day" in [f["field"] for f in response.json()["error"]["fields"]], response.text
    kept = await _report(api, day=str(today - timedelta(days=35)))
    assert kept["today"]["totals"]["events"] == 0 and not kept["live"] and kept["hour"] == 24


async def test_days_roll_over_at_the_tenants_midnight(make_api: MakeApi) -> None:
    """Shanghai's midnight is 16:00 UTC: a minute before it is the day before's hour 23, a minute after is hour 0."""
    today = datetime.now(SHANGHAI).date()
    day = today - timedelta(days=2)
    midnight = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)
    async with make_api(trust_event_time=True) as api:
        for moment in (midnight - timedelta(minutes=1), midnight + timedelta(minutes=1), midnight - timedelta(days=7)):
            await _score(api, device=f"d-{moment:%H%M%d}", phone="13812345672", timestamp=moment.isoformat())
        before, after = await _report(api, day=str(day - timedelta(days=1))), await _report(api, day=str(day))
    assert before["today"]["series"]["events"][23] == 1 and before["today"]["totals"]["events"] == 1
    assert after["today"]["series"]["events"][0] == 1 and after["today"]["totals"]["events"] == 1
    assert after["last_week"]["day"] == str(day - timedelta(days=7))  # the same weekday, its midnight event
    assert after["last_week"]["series"]["events"][0] == 1 and after["last_week"]["totals_so_far"]["events"] == 1
    assert before["last_week"]["totals"]["events"] == 0


async def test_a_declared_value_is_what_a_reward_is_worth(make_api: MakeApi, tmp_path: Path) -> None:
    pack = tmp_path / "valued"
    pack.mkdir()
    text = (PACK / "pack.yaml").read_text(encoding="utf-8")
    valued = text.replace(
        "budget: {total: 5, per_customer: 1}", "budget: {total: 5, per_customer: 1}\n    value_yuan: 60"
    )
    assert valued != text
    (pack / "pack.yaml").write_text(valued, encoding="utf-8")
    async with make_api(rules_path=pack) as api:
        await _stream(api)
        totals = (await _report(api))["today"]["totals"]
    assert (totals["granted_value"], totals["withheld_value"]) == (2 * 60 + 5, 2 * 60)


async def test_one_offer_per_exclusivity_group_counts_as_withheld(make_api: MakeApi, tmp_path: Path) -> None:
    """A denied sign-up eligible for two offers of one group is one reward protected, not two."""
    pack = tmp_path / "grouped"
    pack.mkdir()
    text = (PACK / "pack.yaml").read_text(encoding="utf-8")
    coupon = "    budget: {total: 5, per_customer: 1}\n"
    gift = (
        "    group: entry\n"
        "  - id: welcome_gift\n    label: 欢迎礼\n    tiers: [occasional]\n    on: [signup]\n    group: entry\n"
        "    priority: 5\n    effect: {type: gift, value: 10, description: 欢迎礼}\n"
    )
    assert coupon in text
    (pack / "pack.yaml").write_text(text.replace(coupon, coupon + gift, 1), encoding="utf-8")
    async with make_api(rules_path=pack) as api:
        denied = await _score(api, device="seeded-farm-device")
        assert {w["offer"] for w in denied["withheld"] if w["why"] == "risk"} == {"newcomer_coupon", "welcome_gift"}
        allowed = await _score(api, device="d-grouped", phone="13812345673")
        assert [o["offer"] for o in allowed["offers"]] == ["welcome_gift"]
        report = await _report(api)
    totals = report["today"]["totals"]
    assert (totals["withheld"], totals["withheld_value"], totals["granted"], totals["granted_value"]) == (1, 10, 1, 10)
    offers = {o["offer"]: o for o in report["offers"]}
    assert (offers["welcome_gift"]["withheld"], offers["newcomer_coupon"]["withheld"]) == (1, 0)


async def test_the_counters_grow_with_shapes_not_traffic(api: httpx.AsyncClient, redis_client: Redis) -> None:
    """Twenty honest sign-ups (each its own customer, device and phone) are three fields of one day's hash."""
    for n in range(20):
        await _score(api, device=f"d-many-{n}", phone=f"138123450{n:02d}")
    day = datetime.now(SHANGHAI).date().isoformat()
    keys = [k async for k in redis_client.scan_iter(match="yt:{alpha:stats}:*")]
    assert keys == [f"yt:{{alpha:stats}}:day:{day}".encode()]
    by_shape: dict[str, int] = {}
    for name, count in (await redis_client.hgetall(keys[0])).items():  # summed over hours: a test may span two
        shape = name.decode().partition("|")[2]
        by_shape[shape] = by_shape.get(shape, 0) + int(count)
    # the budget of 5 coupons ran out: the other 15 are allowed with nothing granted (a refusal, not protection)
    assert by_shape == {"a;newcomer_coupon;;": 5, "$g": 5 * 20 * 100, "a;;;": 15}
    assert 0 < await redis_client.ttl(keys[0]) <= 36 * 86_400
