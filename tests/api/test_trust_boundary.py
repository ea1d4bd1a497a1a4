"""The API as a farmer sees it: every byte of the body, the headers and the timing is theirs.

Each test replays an attack from issue 12 against a real ``yutang serve`` (two
workers, real HTTP) on the shipped pack, with the trial's budget cut to 7 units and
the newcomer gift's to 5 so the last units can be raced for. The same attacks run on
the embedded Redis and on the local 3-master cluster.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.events import MAX_ATTRIBUTE_CHARS
from engine.pack.loader import read_pack_files
from tests.api.conftest import auth
from tests.api.serving import serve_on

RULES = Path(__file__).resolve().parents[2] / "rules"
TRIAL_TOTAL = 7
GIFT_TOTAL = 5
_n = itertools.count()


def _pack(root: Path) -> Path:
    rules = root / "rules"
    shutil.copytree(RULES, rules)
    offers = rules / "offers.yaml"
    text = offers.read_text()
    text = text.replace(
        "budget: {total: 500, per_customer: 1, per_day: 50}",
        f"budget: {{total: {TRIAL_TOTAL}, per_customer: 1, per_day: 50}}",
        1,
    )
    text = text.replace(
        "budget: {total: 2000, per_customer: 1, per_day: 100}",
        f"budget: {{total: {GIFT_TOTAL}, per_customer: 1, per_day: 100}}",
        1,
    )
    offers.write_text(text)
    return rules


_PACKS: dict[str, Path] = {}


@pytest.fixture(scope="module", params=["embedded", pytest.param("cluster", marks=pytest.mark.cluster)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp(f"trust-{request.param}")
    rules = _pack(root)
    with serve_on(request, root, rules=rules, env={"YUTANG_RECORD_EVENTS": "1"}) as base:
        _PACKS[base] = rules
        yield base


def signup(customer: str | None = None, **fields: Any) -> dict[str, Any]:
    """A clean newcomer: its own device, network and phone, at the current time."""
    n = next(_n)
    body = {
        "event_id": f"su-{n}", "type": "signup", "customer": customer or f"parent-{n}",
        "device": f"dv-{n}", "ip": f"36.{n // 250 % 250}.{n % 250}.{7 + n % 200}",
        "phone": f"1381{n:07d}", "timestamp": datetime.now(UTC).isoformat(),
    }  # fmt: skip
    body.update(fields)
    return body


def post(base: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(f"{base}/v1/score", json=body, headers={**auth(), **headers}, timeout=30)


def offer_used(base: str, offer: str) -> int:
    rows = httpx.get(f"{base}/v1/reports/offers", headers=auth(), timeout=10).json()["offers"]
    return int(next(row["used"] for row in rows if row["offer"] == offer))


def history_grants(base: str, customers: list[str], offer: str) -> int:
    total = 0
    for customer in customers:
        view = httpx.get(f"{base}/v1/customers/{customer}", headers=auth(), timeout=10).json()
        total += sum(1 for o in view["offers"] if o["offer"] == offer and o["status"] in ("granted", "held"))
    return total


def granted(answer: dict[str, Any], offer: str) -> bool:
    """Whether the answer spent a unit of ``offer``: granted, or held (the newcomer gift is held until paid)."""
    return any(o["offer"] == offer and o["status"] in ("granted", "held") for o in answer["offers"])


def test_a_reused_event_id_never_grants_past_the_budget(server: str) -> None:
    customers, first_grant = [], None
    for _ in range(TRIAL_TOTAL + 2):
        body = signup()
        answer = post(server, body).json()
        customers.append(body["customer"])
        if granted(answer, "trial_99") and first_grant is None:
            first_grant = body
    assert offer_used(server, "trial_99") == TRIAL_TOTAL and first_grant is not None
    # 20 new customers, each sending the granted event id with their own identity
    reused = [signup(event_id=first_grant["event_id"]) for _ in range(20)]
    answers = [post(server, body) for body in reused]
    assert {a.status_code for a in answers} == {409}
    error = answers[0].json()["error"]
    assert error["code"] == "idempotency_conflict" and first_grant["event_id"] in error["message"]
    assert {"customer", "device", "ip", "phone"} <= {f["field"] for f in error["fields"]}
    customers += [b["customer"] for b in reused]
    assert offer_used(server, "trial_99") == TRIAL_TOTAL
    assert history_grants(server, customers, "trial_99") == TRIAL_TOTAL
    # the first sender's own retry still gets its first answer
    again = post(server, first_grant)
    assert (
        again.status_code == 200
        and again.headers["idempotent-replayed"] == "true"
        and granted(again.json(), "trial_99")
    )


@pytest.mark.parametrize(
    "when",
    [
        timedelta(days=-1),
        timedelta(days=-12),
        timedelta(minutes=-6),
        timedelta(minutes=6),
        datetime(2020, 1, 1, tzinfo=UTC),
        datetime(2026, 12, 1, 20, 15, tzinfo=UTC) + timedelta(hours=-8),  # red-packet rain hour, another day
    ],
    ids=["yesterday", "12-days-ago", "6-min-ago", "6-min-ahead", "2020", "rain-hour-another-day"],
)
def test_the_clients_clock_decides_no_cap_window_or_counter(server: str, when: Any) -> None:
    at = when if isinstance(when, datetime) else datetime.now(UTC) + when
    body = signup(timestamp=at.isoformat())
    answer = post(server, body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "timestamp_out_of_range" and error["bound_s"] == 300
    assert error["fields"][0]["field"] == "timestamp" and "±300 s" in error["message"]
    rain = {**body, "event_id": body["event_id"] + "-rain", "type": "red_packet_claim", "campaign": "red_packet_rain"}
    assert post(server, rain).status_code == 422
    view = httpx.get(f"{server}/v1/customers/{body['customer']}", headers=auth(), timeout=10).json()
    assert view["offers"] == [] and view["recent_decisions"] == []
    within = post(server, signup(timestamp=(datetime.now(UTC) - timedelta(minutes=4)).isoformat()))
    assert within.status_code == 200, within.text


def _metric(base: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    assert wanted  # labels given
    return total


async def test_fifty_concurrent_copies_are_one_request(server: str) -> None:
    body = signup()
    before = _metric(server, "yutang_decisions_total", event_type="signup")
    async with httpx.AsyncClient(base_url=server, headers=auth(), timeout=30) as client:
        answers = await asyncio.gather(*(client.post("/v1/score", json=body) for _ in range(50)))
    ok = [a for a in answers if a.status_code == 200]
    fresh = [a for a in ok if a.headers.get("idempotent-replayed") != "true"]
    assert len(fresh) == 1, [a.status_code for a in answers]
    assert {a.content for a in ok} == {fresh[0].content}
    for other in (a for a in answers if a.status_code != 200):
        assert other.status_code == 409 and other.json()["error"]["code"] == "in_progress"
        assert other.headers["retry-after"] == "1"
    view = httpx.get(f"{server}/v1/customers/{body['customer']}", headers=auth(), timeout=10).json()
    assert [d["event_id"] for d in view["recent_decisions"]] == [body["event_id"]]
    assert _metric(server, "yutang_decisions_total", event_type="signup") == before + 1
    export = httpx.get(f"{server}/v1/events/export", headers=auth(), timeout=30).text
    assert sum(1 for line in export.splitlines() if body["event_id"] in line) == 1


def test_an_idempotency_key_is_not_an_event_id(server: str) -> None:
    victim = signup()
    assert post(server, victim).status_code == 200
    attacker = signup()
    answer = post(server, attacker, **{"Idempotency-Key": victim["event_id"]})
    assert answer.status_code == 200 and answer.headers.get("idempotent-replayed") is None
    assert answer.json()["event_id"] == attacker["event_id"]
    # the key is now bound to the attacker's request: reusing it for another body is refused
    other = post(server, signup(), **{"Idempotency-Key": victim["event_id"]})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    # the same request with the same key, and a retry with a new query string, are told apart
    assert post(server, attacker, **{"Idempotency-Key": victim["event_id"]}).headers["idempotent-replayed"] == "true"
    changed = httpx.post(f"{server}/v1/score?explain=true", json=attacker,
                         headers={**auth(), "Idempotency-Key": victim["event_id"]}, timeout=30)  # fmt: skip
    assert changed.status_code == 409 and [f["field"] for f in changed.json()["error"]["fields"]] == ["query"]


async def test_200_racers_for_the_last_gift_units_get_exactly_the_budget(server: str) -> None:
    racers = [signup(type="coupon_claim", campaign="newcomer_gift", event_id=f"gift-{next(_n)}") for _ in range(200)]
    async with httpx.AsyncClient(base_url=server, headers=auth(), timeout=60) as client:
        # each racer sends its claim twice at once, as a retrying storefront would
        answers = await asyncio.gather(*(client.post("/v1/score", json=b) for b in racers + racers))
    assert {a.status_code for a in answers} <= {200, 409}
    fresh = [a.json() for a in answers if a.status_code == 200 and a.headers.get("idempotent-replayed") != "true"]
    assert len(fresh) == len(racers)  # every event evaluated exactly once
    assert sum(granted(a, "newcomer_gift") for a in fresh) == GIFT_TOTAL
    assert offer_used(server, "newcomer_gift") == GIFT_TOTAL
    assert history_grants(server, [b["customer"] for b in racers], "newcomer_gift") == GIFT_TOTAL


def test_a_backtracking_regex_reloaded_cannot_freeze_a_worker(server: str) -> None:
    rule = (
        "rules:\n  - id: bot_agent\n    code: 9901\n    on: [signup]\n"
        "    when: 'matches(attr.user_agent, \"(a+)+$\")'\n    score: 10\n    reason: {zh: 机器人, en: bot agent}\n"
    )
    files = {**read_pack_files(_PACKS[server]), "bots.yaml": rule}
    reloaded = httpx.post(f"{server}/v1/rules/reload", json={"files": files}, headers=auth(), timeout=60)
    assert reloaded.status_code == 200, reloaded.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until both workers run the new set
        fired = [post(server, signup(attributes={"user_agent": "a" * 40})).json() for _ in range(4)]
        if all("bot_agent" in [r["rule"] for r in f["reasons"]] for f in fired):
            break
    else:
        pytest.fail("the reloaded rule never ran on both workers")
    for _ in range(6):  # Python's re: 3.5 s at 26 characters, doubling per character
        hostile = signup(attributes={"user_agent": "a" * (MAX_ATTRIBUTE_CHARS - 1) + "b"})
        started = time.monotonic()
        answer = post(server, hostile)
        assert answer.status_code == 200 and time.monotonic() - started < 1.0
        assert "bot_agent" not in [r["rule"] for r in answer.json()["reasons"]]
