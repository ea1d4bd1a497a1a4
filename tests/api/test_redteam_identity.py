"""Red team: event identity and time, attacked as a farmer who owns every byte a storefront forwards.

Each test sends what the attacker would send, over real HTTP, to a real ``yutang serve``
(two workers) on the shipped pack, with one group-buy offer added (``studio_group``, a
3-person group that closes 2 s after it opens, so a deadline can pass within a test).
The breaches these tests found, and the defences they pin:

- a crafted pair of customer ids whose field digests collide replayed one customer's
  grant to the other (the fingerprint's per-field digests were 48 bits: a birthday
  search over ~2^24 ids, three minutes on one core, finds such a pair);
- outcomes (``/v1/events``) took any timestamp: an ``order_paid`` dated 2020 left the
  payer "new" (``orders_365d`` 0: newcomer offers again) and "lapsed" (win-back);
- a group-buy took its deadline, and a join its time, from the event: a leader back-dated
  the deadline, a member dated before the deadline joined after it;
- ``NaN`` / ``Infinity`` attribute values were accepted and written into the NDJSON
  event export, which no strict JSON reader can then parse;
- an Idempotency-Key stayed bound for a day to a request refused for its time;
- a retried group-buy opening made a new group id each time, so it got 409 and never
  learned its group.

- once an event id's claim was gone (its answer lost with Redis, the pending claim
  expired), the offer ledger's per-event record granted to whoever sent the id next,
  without spending a unit; it now stores its beneficiary and answers ``event_taken``.

Attacks that did not breach: ``test_what_held``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import ALPHA_EVENTS, ALPHA_SCORE, BETA, auth
from tests.api.serving import serve_on

RULES = Path(__file__).resolve().parents[2] / "rules"
GROUP_OFFER = """
  - id: studio_group
    label: 3人拼团
    tiers: [occasional, regular, important]
    on: [group_buy_join]
    effect: {type: trial, value: 69, description: 3人成团69元}
    group_buy: {size: 3, within: 2s}
"""
#: Two customer ids whose digests, as the fingerprint took them (blake2b, 6 bytes, of the
#: JSON string), are equal: found offline by sorting the digests of "wx_<hex>" for 40M ids.
COLLIDING_CUSTOMERS = ("wx_bb8f5d", "wx_17fffe2")
_n = itertools.count()


def _pack(root: Path) -> Path:
    rules = root / "rules"
    shutil.copytree(RULES, rules)
    offers = rules / "offers.yaml"
    text = offers.read_text()
    at = text.index("\ntests:")
    offers.write_text(text[:at] + GROUP_OFFER + text[at:])
    return rules


@pytest.fixture(scope="module", params=["embedded", pytest.param("cluster", marks=pytest.mark.cluster)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp(f"redteam-{request.param}")
    with serve_on(request, root, rules=_pack(root), env={"YUTANG_RECORD_EVENTS": "1"}) as base:
        yield base


def now(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def signup(**fields: Any) -> dict[str, Any]:
    """A clean newcomer: its own device, network and phone, at the current time."""
    n = next(_n)
    body = {
        "event_id": f"rt-su-{n}-{time.time_ns()}", "type": "signup", "customer": f"rt-parent-{n}-{time.time_ns()}",
        "device": f"rt-dv-{n}", "ip": f"58.{n // 250 % 250}.{n % 250}.{9 + n % 200}",
        "phone": f"1590{n:07d}", "timestamp": now(),
    }  # fmt: skip
    body.update(fields)
    return body


def post(base: str, path: str, body: Any, key: str | None = None, **headers: str) -> httpx.Response:
    sent = {**(auth(key) if key else auth()), **headers}
    return httpx.post(f"{base}{path}", json=body, headers=sent, timeout=30)


def customer(base: str, who: str) -> dict[str, Any]:
    return dict(httpx.get(f"{base}/v1/customers/{who}", headers=auth(), timeout=10).json())


def test_a_crafted_digest_collision_never_replays_another_customers_grant(server: str) -> None:
    first, second = COLLIDING_CUSTOMERS
    body = signup(customer=first)
    granted = post(server, "/v1/score", body)
    assert granted.status_code == 200 and granted.json()["offers"][0]["status"] in (
        "granted",
        "held",
    )  # held until the first visit
    stolen = post(server, "/v1/score", {**body, "customer": second})
    assert stolen.status_code == 409, stolen.text  # was 200 Idempotent-Replayed: wx_bb8f5d's trial, to wx_17fffe2
    error = stolen.json()["error"]
    assert error["code"] == "idempotency_conflict" and [f["field"] for f in error["fields"]] == ["customer"]
    assert customer(server, second)["offers"] == []


@pytest.mark.parametrize(
    ("type_", "when"),
    [("order_paid", "2020-06-01T00:00:00Z"), ("order_paid", "2035-06-01T00:00:00+08:00"),
     ("refund", "2020-01-01T00:00:00Z"), ("label", "2019-03-01T08:00:00-05:00")],
    ids=["paid-2020", "paid-2035", "refund-2020", "label-2019"],
)  # fmt: skip
def test_an_outcome_dated_off_the_clock_is_refused(server: str, type_: str, when: str) -> None:
    payer = f"rt-payer-{next(_n)}-{time.time_ns()}"
    body: dict[str, Any] = {"event_id": f"rt-out-{payer}", "type": type_, "customer": payer, "timestamp": when}
    body.update({"label": "legit"} if type_ == "label" else {"amount": 99})
    answer = post(server, "/v1/events", body, ALPHA_EVENTS)
    assert answer.status_code == 422, answer.text  # was 200: the payment counted in 2020, the payer stayed "new"
    error = answer.json()["error"]
    assert error["code"] == "timestamp_out_of_range" and error["bound_s"] == 300
    assert error["fields"][0]["field"] == "timestamp"
    features = customer(server, payer)["features"]
    assert features["customer.orders_365d"] == 0 and features["customer.days_since_order"] is None
    # the same payment at the server's time is recorded, once
    paid = {**body, "event_id": body["event_id"] + "-now", "timestamp": now(seconds=-60)}
    assert post(server, "/v1/events", paid, ALPHA_EVENTS).status_code == 200
    assert post(server, "/v1/events", paid, ALPHA_EVENTS).headers["idempotent-replayed"] == "true"
    if type_ == "order_paid":
        assert customer(server, payer)["features"]["customer.orders_365d"] == 1


def join(who: str, **fields: Any) -> dict[str, Any]:
    body = {"event_id": f"rt-gb-{who}", "type": "group_buy_join", "customer": who, "device": f"rt-dv-{who}",
            "ip": f"61.{next(_n) % 250}.7.{next(_n) % 250 + 1}", "amount": 69, "timestamp": now()}  # fmt: skip
    body.update(fields)
    return body


def test_a_group_buy_runs_on_the_servers_clock(server: str) -> None:
    tag = time.time_ns()
    leader = join(f"rt-lead-{tag}", timestamp=now(seconds=-290))  # back-dated as far as the skew allows
    before = datetime.now(UTC)
    opened = post(server, "/v1/groupbuys", {"offer": "studio_group", "join": leader}, ALPHA_SCORE)
    assert opened.status_code == 200 and opened.json()["outcome"] == "open", opened.text
    group = opened.json()["group"]
    deadline = datetime.fromisoformat(group["deadline"])
    assert deadline >= before + timedelta(seconds=2)  # was 288 s in the past: the group was born expired
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.5)
    # the deadline has passed (no worker runs here, so the group is still "open" in Redis);
    # two members send joins dated before it
    for n in range(2):
        late = join(f"rt-late{n}-{tag}", timestamp=(deadline - timedelta(seconds=1)).isoformat())
        answer = post(server, f"/v1/groupbuys/{group['group_id']}/join", {"join": late}, ALPHA_SCORE)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["outcome"], answer.json()["reason"]) == ("refused", "deadline_passed")
    state = httpx.get(f"{server}/v1/groupbuys/{group['group_id']}", headers=auth(), timeout=10).json()
    assert state["state"] == "open" and len(state["members"]) == 1  # was "completed" after its deadline


def test_a_join_scored_before_the_deadline_cannot_be_sent_after_it(server: str) -> None:
    tag = time.time_ns()
    opened = post(server, "/v1/groupbuys", {"offer": "studio_group", "join": join(f"rt-lead2-{tag}")}, ALPHA_SCORE)
    group = opened.json()["group"]
    # the member's join was scored (and answered) before the deadline, through /v1/score
    early = join(f"rt-early-{tag}", group=group["group_id"])
    assert post(server, "/v1/score", early, ALPHA_SCORE).status_code == 200
    time.sleep(max(0.0, (datetime.fromisoformat(group["deadline"]) - datetime.now(UTC)).total_seconds()) + 0.5)
    replayed = post(server, f"/v1/groupbuys/{group['group_id']}/join", {"join": early}, ALPHA_SCORE)
    assert replayed.status_code == 200 and replayed.json()["score"]["event_id"] == early["event_id"]
    assert (replayed.json()["outcome"], replayed.json()["reason"]) == ("refused", "deadline_passed")


def test_non_finite_attributes_never_reach_the_export(server: str) -> None:
    for token in ("NaN", "Infinity", "-Infinity", "1e400"):
        body = json.dumps(signup(attributes={"ua_score": 0})).replace('"ua_score": 0', f'"ua_score": {token}')
        answer = httpx.post(f"{server}/v1/score", content=body, timeout=30,
                            headers={**auth(), "Content-Type": "application/json"})  # fmt: skip
        assert answer.status_code == 422, (token, answer.text)  # was 200, and `NaN` written into the export
        assert answer.json()["error"]["fields"][0]["field"].startswith("attributes.ua_score")
    export = httpx.get(f"{server}/v1/events/export", headers=auth(), timeout=30)
    refused = [line for line in export.text.splitlines() if _not_strict_json(line)]
    assert refused == []


def _not_strict_json(line: str) -> bool:
    """True when ``line`` holds NaN / Infinity, which only Python's json module reads."""
    found: list[str] = []
    json.loads(line, parse_constant=found.append)
    return bool(found)


async def test_what_held(server: str) -> None:
    """Attacks that did not breach: each answer is what a farmer got."""
    body = signup()
    first = post(server, "/v1/score", body)
    assert first.status_code == 200
    # another tenant's same event id is its own event; the first tenant's answer is untouched
    beta = post(server, "/v1/score", {**body, "customer": "beta-someone"}, BETA)
    assert beta.status_code == 200 and beta.headers.get("idempotent-replayed") is None
    assert post(server, "/v1/score", body, ALPHA_SCORE).content == first.content
    # whitespace around the id is the same id (so a conflict), case and look-alikes are other events
    padded = post(server, "/v1/score", {**body, "event_id": f" {body['event_id']}\t", "customer": "rt-other"})
    assert padded.status_code == 409
    # an events-only key cannot score; an outcome id is not a scored id
    assert post(server, "/v1/score", body, ALPHA_EVENTS).status_code == 403
    # an oversized or empty Idempotency-Key, 65 attributes, a nested attribute: 422 naming the field
    for headers, sent in (
        ({"Idempotency-Key": "k" * 129}, signup()),
        ({"Idempotency-Key": ""}, signup()),
        ({}, signup(attributes={f"a{i}": i for i in range(65)})),
        ({}, signup(attributes={"a": {}})),
    ):
        answer = post(server, "/v1/score", sent, **headers)
        assert answer.status_code == 422 and answer.json()["error"]["fields"], answer.text
    # odd but valid timestamps: epoch seconds, a naive time (UTC), nanoseconds, a +14:00 offset
    for stamp in (
        int(time.time()),
        datetime.now(UTC).replace(tzinfo=None).isoformat(),
        now()[:26] + "789Z",
        datetime.now(timezone(timedelta(hours=14))).isoformat(),
    ):
        assert post(server, "/v1/score", signup(timestamp=stamp)).status_code == 200, stamp
    # ten bodies racing behind one Idempotency-Key: one is evaluated, the rest are refused
    key = f"rt-race-{time.time_ns()}"
    async with httpx.AsyncClient(base_url=server, headers=auth(), timeout=30) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/score", json=signup(), headers={"Idempotency-Key": key}) for _ in range(10))
        )
    assert sorted(a.status_code for a in answers) == [200] + [409] * 9


async def test_a_late_retry_of_a_recorded_outcome_still_gets_its_answer(make_api: Any) -> None:
    async with make_api(event_time_skew_s=1) as api:
        paid = {"event_id": f"rt-late-paid-{time.time_ns()}", "type": "order_paid", "customer": "rt-late-mum",
                "amount": 99, "timestamp": now()}  # fmt: skip
        first = await api.post("/v1/events", json=paid, headers=auth())
        await asyncio.sleep(1.5)
        retry = await api.post("/v1/events", json=paid, headers=auth())
        assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
        assert retry.json() == first.json()
        other = await api.post("/v1/events", json={**paid, "event_id": paid["event_id"] + "-2"}, headers=auth())
        assert other.status_code == 422 and other.json()["error"]["code"] == "timestamp_out_of_range"


def test_an_idempotency_key_is_not_stuck_to_a_refused_request(server: str) -> None:
    key = f"rt-refused-{time.time_ns()}"
    stale = signup(timestamp=now(hours=-8))  # a storefront whose clock ran on local time as UTC
    assert post(server, "/v1/score", stale, **{"Idempotency-Key": key}).status_code == 422
    taken = signup()
    assert post(server, "/v1/score", taken).status_code == 200
    reused = post(server, "/v1/score", {**taken, "customer": "rt-someone-else"}, **{"Idempotency-Key": key})
    assert reused.status_code == 409 and reused.json()["error"]["fields"][0]["field"] == "customer"
    # neither refusal bound the key: the storefront's corrected request goes through under it
    fixed = post(server, "/v1/score", {**stale, "timestamp": now()}, **{"Idempotency-Key": key})
    assert fixed.status_code == 200, fixed.text  # was 409 for a day: the key was bound to the refused request
    again = post(server, "/v1/score", {**stale, "customer": "rt-other-2"}, **{"Idempotency-Key": key})
    assert again.status_code == 409  # bound now, to the request that was answered


async def test_a_retried_group_buy_open_gets_its_group_once(server: str) -> None:
    leader = join(f"rt-lead3-{time.time_ns()}")
    request = {"offer": "studio_group", "join": leader}
    first = post(server, "/v1/groupbuys", request, ALPHA_SCORE)
    assert first.status_code == 200 and first.json()["outcome"] == "open"
    group = first.json()["group"]
    # the storefront timed out and resends the same open: it must learn the same group
    retry = post(server, "/v1/groupbuys", request, ALPHA_SCORE)
    assert retry.status_code == 200, retry.text  # was 409 idempotency_conflict on 'group': a new group id per try
    assert retry.json()["outcome"] == "member" and retry.json()["group"]["group_id"] == group["group_id"]
    assert retry.json()["group"]["deadline"] == group["deadline"]  # the retry does not move the deadline
    # five copies at once: one group, one opening
    racer = {"offer": "studio_group", "join": join(f"rt-lead4-{time.time_ns()}")}
    async with httpx.AsyncClient(base_url=server, headers=auth(ALPHA_SCORE), timeout=30) as client:
        answers = await asyncio.gather(*(client.post("/v1/groupbuys", json=racer) for _ in range(5)))
    done = [a.json() for a in answers if a.status_code == 200]
    assert {a.status_code for a in answers} <= {200, 409} and done
    assert len({a["group"]["group_id"] for a in done}) == 1 and [a["outcome"] for a in done].count("open") <= 1


async def test_an_event_id_whose_answer_was_lost_cannot_be_taken_over_by_another_customer(make_api: Any) -> None:
    from redis.exceptions import ResponseError

    from api.claims import Claims
    from engine.errors import StoreUnavailable

    async with make_api(claim_wait_s=0.2) as api:
        services = api.app.state.runtime.services  # type: ignore[attr-defined]
        send = services.writes.send

        async def lost(calls: Any) -> None:  # Redis lost after the grant, before the answer was kept
            raise StoreUnavailable("redis remember failed: ConnectionError: injected")

        async def refused(*calls: Any) -> None:  # the reservation's one-trip script refused: nothing ran in it
            raise StoreUnavailable("redis composed failed: injected") from ResponseError("injected")

        services.writes.send = lost
        services.writes.send_after = refused  # so the reservation goes on its own, then the writes are lost
        body = signup(customer="rt-first-owner")
        answer = (await api.post("/v1/score", json=body, headers=auth())).json()
        assert answer["degraded"] is True and answer["offers"][0]["status"] == "granted"
        services.writes.send = send
        del services.writes.send_after
        await asyncio.sleep(0.3)
        await services.client.delete(Claims.event_key("alpha", body["event_id"]))  # as the 15 s pending TTL does
        taken = await api.post("/v1/score", json={**body, "customer": "rt-taker"}, headers=auth())
        offers = taken.json().get("offers", [])
        assert not any(o["status"] == "granted" and o["beneficiary"] == "rt-taker" for o in offers), taken.text
        assert {"offer": answer["offers"][0]["offer"], "why": "event_taken"} in taken.json()["withheld"]
        # the taker's request now defines the id: the first owner (who was answered, degraded) gets 409
        again = await api.post("/v1/score", json=body, headers=auth())
        assert again.status_code == 409 and again.json()["error"]["code"] == "idempotency_conflict"
