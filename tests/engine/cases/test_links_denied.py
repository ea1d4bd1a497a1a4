"""A denied checkout's marks, read back by ``links_of`` on one server and on a 3-master cluster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster

from engine.cases.links import DENIED_CAUSE, FRAUD_CAUSE, HUB_CAUSE, links_of
from engine.events import Event
from engine.features.keys import KeyBuilder, normalize
from engine.features.spec import Entity, ListKind
from engine.features.store import FeatureStore

SECRET = b"links-denied-secret-0123456789"


def paid(customer: str, **fields: Any) -> Event:
    at = datetime.now(UTC).isoformat()
    return Event.model_validate({"event_id": f"e-{customer}", "type": "store_visit", "customer": customer,
                                 "timestamp": at, **fields})  # fmt: skip


async def test_a_denied_wallet_links_its_payers_a_hub_only_the_order_carrying_it(
    redis_client: Redis, tenant: str
) -> None:
    await story(redis_client, tenant)


@pytest.mark.cluster
async def test_a_denied_checkouts_marks_are_read_on_a_cluster(redis_cluster_client: RedisCluster, tenant: str) -> None:
    await story(redis_cluster_client, tenant)


async def story(client: Any, tenant: str) -> None:
    store, keys = FeatureStore(client, secret=SECRET), KeyBuilder(SECRET)
    soon = datetime.now(UTC) + timedelta(days=30)

    async def mark(entity: Entity, value: str, cause: str) -> None:
        await store.lists.add(tenant=tenant, entity=entity, value=value, kind=ListKind.WATCH, reason="test",
                              author="test", expires_at=soon, cause=cause)  # fmt: skip

    def wallet(value: str) -> str:
        return keys.entity_id(tenant, Entity.PAYMENT, normalize(Entity.PAYMENT, value))

    await mark(Entity.PAYMENT, "wx-farm", f"{DENIED_CAUSE}f3")
    await mark(Entity.PAYMENT, "wx-company", f"{HUB_CAUSE}h9")
    await mark(Entity.CUSTOMER, "f3", f"{DENIED_CAUSE}f3")
    await mark(Entity.PAYMENT, "wx-labelled", f"{FRAUD_CAUSE}someone")

    def causes(found: list[Any]) -> list[tuple[str, str | None, str]]:
        return [(link.entity, link.other, link.cause) for link in found]

    # a farm member whose stored wallets include the denied one; the payer itself
    member = await links_of(client, keys, tenant=tenant, event=paid("f1"), denied=True, wallets=[wallet("wx-farm")])
    assert causes(member) == [("payment", "f3", "denied_at_checkout")]
    assert causes(await links_of(client, keys, tenant=tenant, event=paid("f3"), denied=True)) == [
        ("customer", "f3", "denied_at_checkout")
    ]
    # a hub: an earlier payer of the company account is not linked, an outcome carrying it is
    staff = await links_of(client, keys, tenant=tenant, event=paid("h1"), denied=True, wallets=[wallet("wx-company")])
    assert staff == []
    carrying = await links_of(client, keys, tenant=tenant, event=paid("h2", payment="wx-company"), denied=True)
    assert causes(carrying) == [("payment", "h9", "denied_at_checkout")]
    # without denied_at_checkout nothing of this is read; a fraud label's wallet watch is not a denied mark
    assert await links_of(client, keys, tenant=tenant, event=paid("f1"), wallets=[wallet("wx-farm")]) == []
    other = await links_of(client, keys, tenant=tenant, event=paid("x1"), denied=True, wallets=[wallet("wx-labelled")])
    assert other == []
