"""``phone_block``: a code platform's SIM batch seen as one 7-digit block, on a real Redis and a real cluster.

The farmer controls every byte of the number: the same batch typed with spaces, a
country code or ``00``, a landline, a foreign number, no number at all. Only the
E.164 form is blocked, so no spelling splits a batch, and nothing without a mainland
mobile block counts at all (it can only be missing, never "one of many").
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from feature_backends import Backend
from feature_stream import START

from engine.events import Event, phone_block
from engine.features.keys import KeyBuilder, entity_value, normalize
from engine.features.spec import PII_ENTITIES, Aggregate, Entity, WindowedFeature

BLOCK = WindowedFeature(
    name="phone_block.accounts_30d",
    aggregate=Aggregate.DISTINCT,
    by=Entity.PHONE_BLOCK,
    window_seconds=30 * 86_400,
    on=frozenset(),
    field="customer",
)
SPECS = (BLOCK,)
_n = iter(range(10_000))


def _signup(customer: str, phone: str | None, days: float = 0) -> Event:
    return Event(
        event_id=f"pb{next(_n)}",
        type="signup",
        customer=customer,
        phone=phone,
        timestamp=START + timedelta(days=days),
    )


async def _accounts(backend: Backend, tenant: str, event: Event) -> object:
    store = backend.store()
    return (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values[BLOCK.name]


@pytest.mark.parametrize(
    ("phone", "block"),
    [
        ("13912345678", "1391234"),
        ("+86 139 1234 9999", "1391234"),
        ("008613912340000", "1391234"),
        ("139-1234-0001", "1391234"),
        ("17012345678", "1701234"),  # a virtual operator's block is a block too
        ("010 6552 9988", None),  # a Beijing landline: no mobile block
        ("+14155552671", None),  # abroad
    ],
)
def test_every_spelling_of_a_number_has_its_mobile_block_and_only_mobiles_have_one(
    phone: str, block: str | None
) -> None:
    assert phone_block(_signup("c", phone).phone) == block


def test_the_block_is_personal_data_and_a_list_entry_names_it_or_a_number_in_it() -> None:
    assert Entity.PHONE_BLOCK in PII_ENTITIES  # hashed with the deployment's secret like the number
    keys = KeyBuilder(b"0123456789abcdef0123")
    event = _signup("c", "+86 139 1234 5678")
    value = entity_value(event, Entity.PHONE_BLOCK)
    assert value == normalize(Entity.PHONE_BLOCK, "1391234") == normalize(Entity.PHONE_BLOCK, "139 1234 0000")
    assert keys.pii_hash("t", Entity.PHONE_BLOCK, value or "") != keys.pii_hash("t", Entity.PHONE, value or "")
    for bad in ("139123", "abc", "010 6552 9988"):
        with pytest.raises(ValueError, match="number block"):
            normalize(Entity.PHONE_BLOCK, bad)


async def test_a_batch_typed_every_way_is_one_block_that_counts_its_accounts(backend: Backend, tenant: str) -> None:
    # attack: a farmer retypes each rented number so no two look alike; the block stays one
    spellings = ["13912340001", "+86 139 1234 0002", "008613912340003", "139-1234-0004"]
    counts = [await _accounts(backend, tenant, _signup(f"farm{i}", phone, i)) for i, phone in enumerate(spellings)]
    assert counts == [1, 2, 3, 4]
    # the same account again is not another account; a neighbouring block is another block
    assert await _accounts(backend, tenant, _signup("farm0", "13912340001", 5)) == 4
    assert await _accounts(backend, tenant, _signup("parent", "13912350001", 5)) == 1
    # a month later the batch has left the window
    assert await _accounts(backend, tenant, _signup("late", "13912340009", 40)) == 1


async def test_no_number_or_no_mobile_block_is_missing_not_a_small_count(backend: Backend, tenant: str) -> None:
    # attack: leave the number out, or send a landline, so the feature reads "1 account"
    assert await _accounts(backend, tenant, _signup("a", None)) is None
    assert await _accounts(backend, tenant, _signup("b", "010 6552 9988")) is None
    assert await _accounts(backend, tenant + "x", _signup("c", "13912340001")) == 1  # tenants apart
