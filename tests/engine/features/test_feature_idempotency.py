"""A storefront retry (same event id) never changes a counter and gets the first answer back."""

from __future__ import annotations

from datetime import timedelta

from feature_backends import Backend
from feature_stream import SPECS, START

from engine.events import Event


def _referral(event_id: str, minutes: int, **fields: object) -> Event:
    base = {"type": "referral", "customer": "invitee-1", "referrer": "ref-1", "device": "dev-a",
            "ip": "10.0.0.8", "phone": "13812345678"}  # fmt: skip
    base.update(fields)
    return Event(event_id=event_id, timestamp=START + timedelta(minutes=minutes), **base)  # type: ignore[arg-type]


async def test_replayed_event_returns_first_values_and_changes_nothing(backend: Backend, tenant: str) -> None:
    store = backend.store()
    first = await store.record_and_read(tenant=tenant, event=_referral("r1", 0), specs=SPECS)
    await store.record_and_read(tenant=tenant, event=_referral("r2", 5, customer="invitee-2"), specs=SPECS)
    probe = _referral("probe", 10, customer="invitee-3")
    before = await store.read(tenant=tenant, event=probe, specs=SPECS)

    again = await store.record_and_read(tenant=tenant, event=_referral("r1", 0), specs=SPECS)
    # a retry without a timestamp gets "now" from the model: still the same event
    retry_now = _referral("r1", 0).model_copy(update={"timestamp": START + timedelta(minutes=9)})
    third = await store.record_and_read(tenant=tenant, event=retry_now, specs=SPECS)

    assert not first.replayed and again.replayed and third.replayed
    assert again.values == first.values == third.values
    assert await store.read(tenant=tenant, event=probe, specs=SPECS) == before
    assert before["referrer.invitees_2h"] == 2 and before["device.accounts_1h"] == 2


async def test_replayed_outcome_is_refused_and_not_summed_twice(backend: Backend, tenant: str) -> None:
    store = backend.store()
    paid = Event(event_id="pay-1", type="order_paid", customer="c9", amount=99.0, timestamp=START)
    assert await store.record_outcome(tenant=tenant, event=paid, specs=SPECS) is True
    assert await store.record_outcome(tenant=tenant, event=paid, specs=SPECS) is False
    probe = Event(event_id="o1", type="order", customer="c9", timestamp=START + timedelta(minutes=1))
    assert (await store.read(tenant=tenant, event=probe, specs=SPECS))["customer.spend_1d"] == 99.0


async def test_replay_after_rule_set_change_reads_current_values(backend: Backend, tenant: str) -> None:
    store = backend.store()
    await store.record_and_read(tenant=tenant, event=_referral("r1", 0), specs=SPECS)
    fewer = SPECS[:5]
    snapshot = await store.record_and_read(tenant=tenant, event=_referral("r1", 0), specs=fewer)
    assert snapshot.replayed
    assert snapshot.values["customer.events_1h"] == 1  # counted once, not twice
