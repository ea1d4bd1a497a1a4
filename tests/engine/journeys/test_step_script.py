"""Journeys' STEP script on real Redis: a retried event changes nothing, and what it remembers stays bounded."""

from __future__ import annotations

from redis.asyncio import Redis

from engine.journeys.state import SEEN_KEEP, JourneyStore, Step

LADDER = Step(journey="ladder", start="new", choices=(("new", "lead", "new->lead"),))
STAY = Step(journey="ladder", start="new", choices=())


async def test_a_retried_event_is_a_duplicate_and_moves_nothing(redis_client: Redis, tenant: str) -> None:
    store = JourneyStore(redis_client)
    first = await store.step(tenant=tenant, customer="c1", event_id="e1", epoch=100.0, steps=[LADDER])
    again = await store.step(tenant=tenant, customer="c1", event_id="e1", epoch=100.0, steps=[LADDER])
    assert (first[0].status, first[0].stage, first[0].seq) == ("moved", "lead", 1)
    assert (again[0].status, again[0].stage, again[0].seq) == ("dup", "lead", 1)
    state = await store.read(tenant=tenant, customer="c1", journey="ladder", start="new")
    assert (state.stage, state.seq, state.last) == ("lead", 1, 100.0)


async def test_the_event_ids_a_journey_remembers_stay_bounded(redis_client: Redis, tenant: str) -> None:
    """600 events: the newest SEEN_KEEP ids are always recognised, the journey never holds more than SEEN_KEEP + 32."""
    store = JourneyStore(redis_client)
    seen = f"{store.key(tenant, 'c2', 'ladder')}:seen"
    sizes = []
    for n in range(600):
        stepped = await store.step(tenant=tenant, customer="c2", event_id=f"e{n}", epoch=1000.0 + n, steps=[STAY])
        assert stepped[0].status == "ok" and stepped[0].last == 1000.0 + n
        sizes.append(await redis_client.zcard(seen))
    assert max(sizes) <= SEEN_KEEP + 32 and sizes[-1] >= SEEN_KEEP
    retried = await store.step(tenant=tenant, customer="c2", event_id=f"e{600 - SEEN_KEEP}", epoch=2000.0, steps=[STAY])
    assert retried[0].status == "dup"
