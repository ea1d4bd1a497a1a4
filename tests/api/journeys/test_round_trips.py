"""An event costs one Redis round trip for all journeys together, and still moves a customer exactly once.

Round trips are counted on a real connection to the real server (every ``send`` of a
command or a pipeline is one), with the shipped pack and a pack of two more journeys
that exercise what is decided before Redis is asked: features given by scoring, a
condition on ``journey.stage``, one on ``journey.days_in_stage`` (read, evaluate,
compare-and-set), and a journey an event does not concern (no round trip at all).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from journey_helpers import RULES, day
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import Connection

from engine.backends import BackendKind
from engine.contacts.gate import ContactGate
from engine.datastore.batches import Writes
from engine.datastore.embedded import EmbeddedRedis
from engine.events import Event
from engine.features.store import FeatureStore
from engine.journeys.actions import Parts
from engine.journeys.due import DueQueue
from engine.journeys.runner import JourneyRunner, Touches
from engine.journeys.state import APPLY_EVENT, STEP, Step, stepped
from engine.journeys.webhooks import Outbox
from engine.journeys.worker import TENANTS_KEY
from engine.offers.ledger import OfferLedger
from engine.pack.loader import read_pack_files
from engine.rule_engine import LoadedRuleSet, prepare

CLUB = """
journeys:
  - id: club
    start: guest
    stages:
      guest: {label: guest}
      buyer: {label: buyer}
      regular: {label: regular}
    transitions:
      - from: [guest]
        on: [order]
        when: 'customer.orders_1h >= 2 and journey.tier != "important"'
        to: buyer
        actions: [{tag: club_buyer}]
      - from: [guest, buyer]
        on: [order]
        when: 'journey.stage == "buyer" and event.amount >= 500'
        to: regular
"""

PATIENCE = """
journeys:
  - id: patience
    start: waiting
    stages:
      waiting: {label: waiting}
      ready: {label: ready}
    transitions:
      - from: [waiting]
        on: [store_visit]
        when: journey.days_in_stage >= 2
        to: ready
"""


class CountingConnection(Connection):
    """A real connection that counts what it sends: one send is one round trip."""

    sent = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        await super().send_packed_command(command, check_health)


@pytest.fixture
async def counted(redis_server: EmbeddedRedis, tenant: str) -> AsyncIterator[Redis]:
    client = Redis.from_pool(ConnectionPool.from_url(redis_server.url, connection_class=CountingConnection))
    for script in (STEP, APPLY_EVENT):  # connect, and load the scripts a first call would load
        await client.script_load(script)
    yield client
    await client.srem(TENANTS_KEY, tenant)  # other tests' workers must not fire this test's timeouts
    await client.aclose()


def runner_on(client: Redis) -> JourneyRunner:
    queue = DueQueue(client)
    parts = Parts(client, OfferLedger(client), ContactGate(client), Outbox(client, queue))
    return JourneyRunner(parts=parts, store=FeatureStore(client, secret=b"journey-test-secret-0123"), queue=queue)


def pack(*, ladder: bool = True, extra: Mapping[str, str] | None = None) -> LoadedRuleSet:
    # review.yaml announces clawbacks on the ladder's studio_crm webhook: it goes with the ladder
    without = ("studio_ladder.yaml", "review.yaml")
    files = {k: v for k, v in read_pack_files(RULES).items() if ladder or not k.endswith(without)}
    return prepare(files | dict(extra or {}), BackendKind.PYTHON)


async def trips(coroutine: Any) -> tuple[Any, int]:
    before = CountingConnection.sent
    result = await coroutine
    return result, CountingConnection.sent - before


async def scored(runner: JourneyRunner, loaded: LoadedRuleSet, tenant: str, event: Event) -> tuple[Any, int]:
    """What the API does with a scored event: record and read its features, evaluate, then the journeys."""
    snapshot = await runner.features.record_and_read(
        tenant=tenant, event=event, specs=loaded.ruleset.record_plan[event.type]
    )
    tier = loaded.evaluate(event, snapshot.values).tier
    return await trips(runner.on_event(tenant=tenant, loaded=loaded, event=event, features=snapshot.values, tier=tier))


async def later(delay: float, coroutine: Any) -> Any:
    await asyncio.sleep(delay)
    return await coroutine


def ev(event_id: str, type_: str, customer: str, at: datetime, **fields: Any) -> Event:
    return Event(event_id=event_id, type=type_, customer=customer, timestamp=at, **fields)


async def stage(runner: JourneyRunner, loaded: LoadedRuleSet, tenant: str, customer: str) -> dict[str, str]:
    return {j["journey"]: j["stage"] for j in await runner.view(tenant=tenant, loaded=loaded, customer=customer)}


async def test_a_scored_event_costs_one_round_trip_on_the_shipped_pack(counted: Redis, tenant: str) -> None:
    loaded, runner = pack(), runner_on(counted)
    for n, type_ in enumerate(["signup", "coupon_claim", "order", "red_packet_claim"]):
        fields = {"amount": 99} if type_ == "order" else {}
        changes, cost = await scored(runner, loaded, tenant, ev(f"s{n}", type_, "mum", day(1), **fields))
        assert (changes, cost) == ([], 1), type_  # the ladder's silent timeouts need every event's time
    # an outcome that moves nobody: its condition reads only the event, so no features are read either
    stay = ev("o1", "order_paid", "mum", day(1, 11), amount=30)
    assert await trips(runner.on_event(tenant=tenant, loaded=loaded, event=stay)) == ([], 1)
    # the one that moves: one round trip to decide, then the post-move work (timeouts, the tag)
    trial = ev("o2", "order_paid", "mum", day(1, 12), amount=99)
    moved, _ = await trips(runner.on_event(tenant=tenant, loaded=loaded, event=trial))
    assert moved == [{"journey": "studio_ladder", "from": "new", "to": "trial",
                      "actions": [{"action": "tag", "target": "trial_buyer", "result": "tagged"}]}]  # fmt: skip
    assert await trips(runner.on_event(tenant=tenant, loaded=loaded, event=trial)) == ([], 1)  # a retry


async def test_a_step_that_can_move_nobody_rides_the_request_s_writes_and_still_counts_once(
    counted: Redis, tenant: str
) -> None:
    """/v1/score passes ``touches``: a STEP that can move nobody goes with the writes after the decision."""
    loaded = pack(extra={"journeys/club.yaml": CLUB})
    runner, writes = runner_on(counted), Writes(counted)
    sign = ev("t1", "signup", "ida", day(1))
    snapshot = await runner.features.record_and_read(
        tenant=tenant, event=sign, specs=loaded.ruleset.record_plan["signup"]
    )
    touches = Touches([("SET", f"yt:{{{tenant}:test}}:kept", "the answer")])  # the request's other writes
    changes, cost = await trips(
        runner.on_event(tenant=tenant, loaded=loaded, event=sign, features=snapshot.values, tier="occasional",
                        touches=touches)
    )  # fmt: skip
    assert (changes, cost, touches.index, len(touches.writes)) == ([], 0, 1, 2)  # no round trip of its own
    # the writes and the STEP go as one composite script (engine/datastore/compose.py), new to this server at its
    # first use (NOSCRIPT, then EVAL): load it with another customer's empty step first
    steps = [Step("club", "guest", ())]
    warm = runner.state.step_call(tenant=tenant, customer="warm", event_id="w0", epoch=sign.epoch, steps=steps)
    await writes.send([("SET", f"yt:{{{tenant}:test}}:warm", "1"), warm])
    replies, cost = await trips(writes.send(touches.writes))
    assert cost == 1  # one round trip, one command: the writes and the STEP
    await runner.after_touch(tenant=tenant, loaded=loaded, event=sign, touches=touches, reply=replies[1])
    view = {j["journey"]: j for j in await runner.view(tenant=tenant, loaded=loaded, customer="ida")}
    assert (view["studio_ladder"]["stage"], view["club"]["stage"]) == ("new", "guest")
    ladder = runner.state.key(tenant, "ida", "studio_ladder")  # the ladder's silent timeouts need the time
    assert await counted.hget(ladder, "last") == repr(sign.epoch).encode()
    again = Touches([])  # the same event once more (a replay that slipped past the claim): recorded once
    await runner.on_event(tenant=tenant, loaded=loaded, event=sign, features=snapshot.values, tier="occasional",
                          touches=again)  # fmt: skip
    assert [s.status for s in stepped((await writes.send(again.writes))[0])] == ["dup"]
    # an order that may move ida (club: two orders in the hour) is decided in a round trip of its own
    orders = [ev(f"t{n}", "order", "ida", day(1, 11, n), amount=99) for n in (2, 3)]
    for order in orders:
        values = (await runner.features.record_and_read(tenant=tenant, event=order,
                                                         specs=loaded.ruleset.record_plan["order"])).values  # fmt: skip
        touches = Touches([])
        moved = await runner.on_event(tenant=tenant, loaded=loaded, event=order, features=values, tier="occasional",
                                      touches=touches)  # fmt: skip
    assert touches.index == -1 and [m["to"] for m in moved] == ["buyer"]


async def test_several_journeys_share_the_round_trip_and_unconcerned_ones_cost_none(
    counted: Redis, tenant: str
) -> None:
    loaded = pack(extra={"journeys/club.yaml": CLUB, "journeys/patience.yaml": PATIENCE})
    runner = runner_on(counted)
    # the ladder and patience need every event (silent timeouts, days in stage): one call for both
    assert (await scored(runner, loaded, tenant, ev("a1", "signup", "kim", day(1))))[1] == 1
    # club, the only journey here, is on `order` alone and reads no stay: a signup costs nothing
    alone = pack(ladder=False, extra={"journeys/club.yaml": CLUB})
    assert (await scored(runner, alone, tenant, ev("a2", "signup", "lee", day(1))))[1] == 0
    assert await stage(runner, alone, tenant, "lee") == {"club": "guest"}
    # orders: club's conditions read customer.orders_1h and the tier, both given by scoring
    first, cost = await scored(runner, alone, tenant, ev("a3", "order", "lee", day(1, 11), amount=600))
    assert (first, cost) == ([], 1)  # guest: one order in the hour; `journey.stage == "buyer"` is false
    second, cost = await scored(runner, alone, tenant, ev("a4", "order", "lee", day(1, 11, 5), amount=100))
    assert second[0]["to"] == "buyer"
    third, cost = await scored(runner, alone, tenant, ev("a5", "order", "lee", day(1, 11, 10), amount=600))
    assert ([(c["from"], c["to"]) for c in third], cost) == ([("buyer", "regular")], 2)  # + the stage's entry


async def test_without_scoring_features_the_customer_is_read_and_moves_the_same(counted: Redis, tenant: str) -> None:
    loaded, runner = pack(ladder=False, extra={"journeys/club.yaml": CLUB}), runner_on(counted)
    costs: dict[str, list[int]] = {}
    for customer, given in (("given", True), ("read", False)):
        moves = []
        for n, (minute, amount) in enumerate([(0, 600), (5, 100), (10, 600)]):
            event = ev(f"{customer}{n}", "order", customer, day(2, 11, minute), amount=amount)
            snapshot = await runner.features.record_and_read(
                tenant=tenant, event=event, specs=loaded.ruleset.record_plan["order"]
            )
            extra = {"features": snapshot.values, "tier": loaded.evaluate(event, snapshot.values).tier} if given else {}
            changes, cost = await trips(runner.on_event(tenant=tenant, loaded=loaded, event=event, **extra))
            costs.setdefault(customer, []).append(cost)
            moves += [(c["from"], c["to"], c["actions"]) for c in changes]
        assert moves == [("guest", "buyer", [{"action": "tag", "target": "club_buyer", "result": "tagged"}]),
                         ("buyer", "regular", [])], customer  # fmt: skip
    assert costs["given"][0] == 1
    assert costs["read"] == [c + 1 for c in costs["given"]]  # the same work plus one read of the customer


async def test_a_condition_on_the_stay_is_evaluated_against_it(counted: Redis, tenant: str) -> None:
    loaded, runner = pack(ladder=False, extra={"journeys/patience.yaml": PATIENCE}), runner_on(counted)
    assert (await scored(runner, loaded, tenant, ev("p1", "signup", "ann", day(1))))[1] == 1  # the stay starts
    assert await runner.on_event(tenant=tenant, loaded=loaded, event=ev("p2", "store_visit", "ann", day(2))) == []
    moved = await runner.on_event(tenant=tenant, loaded=loaded, event=ev("p3", "store_visit", "ann", day(3, 11)))
    assert [(c["from"], c["to"]) for c in moved] == [("waiting", "ready")]
    history = (await runner.view(tenant=tenant, loaded=loaded, customer="ann"))[0]["history"]
    assert history == [{"at": day(3, 11).timestamp(), "from": "waiting", "to": "ready", "by": "store_visit",
                        "event": "p3"}]  # fmt: skip


async def test_racing_events_move_a_customer_exactly_once(counted: Redis, tenant: str) -> None:
    loaded = pack()
    runners = [runner_on(counted) for _ in range(4)]
    trials = [ev(f"t{n}", "order_paid", "amy", day(1, 10, n % 60), amount=99) for n in range(24)]
    retries = [ev("t0", "order_paid", "amy", day(1, 10), amount=99) for _ in range(8)]  # the same event, again
    results = await asyncio.gather(
        *(runners[n % 4].on_event(tenant=tenant, loaded=loaded, event=e) for n, e in enumerate(trials + retries))
    )
    moves = [c for r in results for c in r]
    assert [(c["from"], c["to"]) for c in moves] == [("new", "trial")]
    view = (await runners[0].view(tenant=tenant, loaded=loaded, customer="amy"))[0]
    assert [(h["from"], h["to"]) for h in view["history"]] == [("new", "trial")]
    assert [s["timeout"] for s in view["scheduled"]] == ["trial_no_visit"]
    assert await DueQueue(counted).size(tenant=tenant) == (1, 0)


async def test_a_visit_racing_the_reminder_moves_once_and_fires_at_most_once(counted: Redis, tenant: str) -> None:
    loaded, runner, worker = pack(), runner_on(counted), runner_on(counted)
    customers = [f"mum{n}" for n in range(30)]
    for customer in customers:
        await runner.on_event(tenant=tenant, loaded=loaded, event=ev(f"{customer}-t", "order_paid", customer, day(1),
                                                                     amount=99))  # fmt: skip
    now = day(4, 12).timestamp()
    items = {i.payload["customer"]: i for i in await DueQueue(counted).claim(tenant=tenant, now=now, limit=100)}
    assert sorted(items) == sorted(customers)
    visits = [ev(f"{c}-v", "store_visit", c, day(4, 12) + timedelta(seconds=1)) for c in customers]
    outcomes = await asyncio.gather(  # each customer's visit arrives a little later, or not, than the firing
        *(call for n, (c, v) in enumerate(zip(customers, visits, strict=True))
          for call in (worker.fire(loaded=loaded, item=items[c], now=now),
                       later(n % 10 / 500, runner.on_event(tenant=tenant, loaded=loaded, event=v))))
    )  # fmt: skip
    fired, moved = outcomes[0::2], outcomes[1::2]
    for customer, fire, move in zip(customers, fired, moved, strict=True):
        assert [(c["from"], c["to"]) for c in move] == [("trial", "visited")], customer
        history = (await runner.view(tenant=tenant, loaded=loaded, customer=customer))[0]["history"]
        by = [h["by"] for h in reversed(history)]
        expected = ["order_paid", "timeout:trial_no_visit", "store_visit"] if fire["status"] == "fired" else [
            "order_paid", "store_visit"]  # fmt: skip
        assert by == expected, customer


async def test_a_customer_back_after_the_silence_gets_the_silent_timeouts_again(counted: Redis, tenant: str) -> None:
    loaded, runner = pack(), runner_on(counted)
    package = ev("k1", "order_paid", "kay", day(1), amount=1500)
    assert [c["to"] for c in await runner.on_event(tenant=tenant, loaded=loaded, event=package)] == ["package"]
    now = day(62).timestamp()
    for item in await DueQueue(counted).claim(tenant=tenant, now=now, limit=10):
        if item.payload["kind"] == "timeout":  # not the webhook deliveries
            assert (await runner.fire(loaded=loaded, item=item, now=now))["status"] in ("fired", "skipped")
    assert (await runner.view(tenant=tenant, loaded=loaded, customer="kay"))[0]["scheduled"] == []
    back = ev("k2", "coupon_claim", "kay", day(70))
    assert (await scored(runner, loaded, tenant, back))[0] == []
    scheduled = (await runner.view(tenant=tenant, loaded=loaded, customer="kay"))[0]["scheduled"]
    assert {(s["timeout"], s["due_at"]) for s in scheduled} == {
        (t, (day(70) + timedelta(days=60)).astimezone(UTC).isoformat()) for t in ("winback", "advisor_call")
    }
