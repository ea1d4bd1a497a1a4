"""Event identity beyond the happy path: outcomes' ids, late retries, outages and lost writes."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import ResponseError

from api.claims import FIELD_DIGEST_BYTES, Claims
from engine.datastore.keys import digest
from engine.errors import StoreUnavailable
from engine.events import Event
from tests.api.conftest import auth, event


async def test_an_outcome_id_reused_for_another_customer_is_refused_not_replayed(api) -> None:
    label = event("label", customer="farm-7", label="fraud")
    first = await api.post("/v1/events", json=label, headers=auth())
    assert first.status_code == 200 and first.json()["lists"]
    again = await api.post("/v1/events", json=label, headers=auth())
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = await api.post("/v1/events", json={**label, "customer": "honest-8"}, headers=auth())
    assert other.status_code == 409 and [f["field"] for f in other.json()["error"]["fields"]] == ["customer"]
    # scored events and outcomes are claimed apart: a scored event may share the order's id
    assert (
        await api.post("/v1/score", json=event("order", event_id=label["event_id"]), headers=auth())
    ).status_code == 200


async def test_a_retry_after_the_skew_bound_still_gets_its_first_answer(make_api) -> None:
    async with make_api(event_time_skew_s=1) as api:
        body = event("signup", device="d-late-retry")
        first = await api.post("/v1/score", json=body, headers=auth())
        await asyncio.sleep(1.5)
        retry = await api.post("/v1/score", json=body, headers=auth())
        assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
        assert retry.json() == first.json()
        late = await api.post("/v1/score", json=event("signup", timestamp=body["timestamp"]), headers=auth())
        assert late.status_code == 422 and late.json()["error"]["code"] == "timestamp_out_of_range"


async def test_an_answer_whose_writes_were_lost_says_so_and_its_retry_is_evaluated(make_api) -> None:
    async with make_api(claim_wait_s=0.2) as api:
        services = api.app.state.runtime.services  # type: ignore[attr-defined]
        send = services.writes.send

        async def lost(*calls: Any) -> None:  # a fault real Redis cannot produce on demand mid-request
            raise StoreUnavailable("redis remember failed: ConnectionError: injected")

        async def refused(*calls: Any) -> None:  # the reservation's script with the writes refused: nothing ran
            raise StoreUnavailable("redis composed failed: injected") from ResponseError("injected")

        services.writes.send = lost
        services.writes.send_after = refused  # so the reservation goes on its own, then the writes are lost
        body = event("signup", device="d-lost-writes")
        answer = (await api.post("/v1/score", json=body, headers=auth())).json()
        assert answer["degraded"] is True and answer["degraded_reason"].startswith("answer not kept")
        assert answer["offers"][0]["status"] == "granted"  # the budget was reserved before the writes
        services.writes.send = send
        del services.writes.send_after
        await asyncio.sleep(0.3)  # the guard's breaker (0.2 s) opened on the failure
        busy = await api.post("/v1/score", json=body, headers=auth())
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "in_progress"
        await services.client.delete(Claims.event_key("alpha", body["event_id"]))  # as the pending TTL would
        retry = (await api.post("/v1/score", json=body, headers=auth())).json()
        assert retry["degraded"] is False and retry["offers"] == answer["offers"]  # the same grant, not a second
        remaining = (await api.post("/v1/score", json=event("signup"), headers=auth())).json()["offers"][0]["remaining"]
        assert remaining == answer["offers"][0]["remaining"] - 1  # the retry spent no second unit


async def test_a_backfill_deployment_says_it_trusts_event_times(make_api) -> None:
    async with make_api() as live, make_api(trust_event_time=True) as backfill:
        assert (await live.get("/readyz")).json()["trust_event_time"] is False
        assert (await backfill.get("/readyz")).json()["trust_event_time"] is True
        old = event("signup", timestamp=datetime(2026, 1, 5, 12, tzinfo=UTC).isoformat())
        assert (await live.post("/v1/score", json=old, headers=auth())).status_code == 422
        assert (await backfill.post("/v1/score", json=old, headers=auth())).status_code == 200


async def test_fifty_concurrent_copies_of_an_outcome_are_recorded_once(api) -> None:
    paid = event("order_paid", customer="payer-50", amount=99)
    answers = await asyncio.gather(*(api.post("/v1/events", json=paid, headers=auth()) for _ in range(50)))
    assert {a.status_code for a in answers} <= {200, 409}
    fresh = [a for a in answers if a.status_code == 200 and a.headers.get("idempotent-replayed") != "true"]
    assert len(fresh) == 1
    assert all(a.json()["error"]["code"] == "in_progress" for a in answers if a.status_code == 409)
    view = (await api.get("/v1/customers/payer-50", headers=auth())).json()
    assert view["features"]["customer.orders_365d"] == 1  # counted once


async def test_an_answer_kept_by_the_build_before_still_replays_to_its_retry(api) -> None:
    """A rolling deploy: the claim was written with the standard library's JSON of each field, as it always was."""
    body = event("order", device="d-rolled", amount=99.5, attributes={"claim_ms": 850, "note": "生日照"})
    sent = Event.model_validate(body).model_dump(mode="json", exclude_unset=True)
    sent["timestamp"] = Event.model_validate(body).epoch
    fields = {n: digest(json.dumps(v, sort_keys=True, ensure_ascii=False), FIELD_DIGEST_BYTES) for n, v in sent.items()}
    kept = {"event_id": body["event_id"], "decision": "review", "kept_by": "the build before"}
    value = f"D|{json.dumps(fields, sort_keys=True, separators=(',', ':'))}|{json.dumps(kept)}"
    services = api.app.state.runtime.services  # type: ignore[attr-defined]
    await services.client.set(Claims.event_key("alpha", body["event_id"]), value, px=60_000)
    retry = await api.post("/v1/score", json=body, headers=auth())
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == kept
    changed = await api.post("/v1/score", json={**body, "amount": 100}, headers=auth())
    assert changed.status_code == 409 and [f["field"] for f in changed.json()["error"]["fields"]] == ["amount"]
