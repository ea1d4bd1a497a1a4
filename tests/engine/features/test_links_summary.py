"""The members' link summaries (``lk:s``, links.py): a copy read in one call, never an answer of its own.

Each test runs one world twice on the real store (one server and the 3-master cluster): as is,
and with every summary deleted before each read (the members then read from their own keys);
the answers must be the same, event by event. And the copy must never lag a change a farm
can make to its members between two events of the customer asking.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from feature_backends import Backend

from engine.datastore.keys import CustomerKeys
from engine.events import OUTCOME_TYPES, Event
from engine.features.spec import FeatureSpec, LinkMetric
from engine.offers.scripts import RECORD
from tests.engine.features.test_links_households import DAY0, D, _link  # the same link features' shape

SPECS: tuple[FeatureSpec, ...] = (
    _link("customer.linked_accounts_30d", LinkMetric.ACCOUNTS),
    _link("customer.linked_paid_share_30d", LinkMetric.PAID_SHARE),
    _link("customer.linked_new_share_30d", LinkMetric.NEW_SHARE, within_seconds=7 * D),
    _link("customer.linked_returning_30d", LinkMetric.RETURNING_SHARE, within_seconds=7 * D),
    _link("customer.linked_identities_30d", LinkMetric.IDENTITIES),
    _link("customer.household_rewards_30d", LinkMetric.REWARDS),
)
#: A pack that records the customers' identities but reads no link feature (its events write no summary).
PLAIN: tuple[FeatureSpec, ...] = ()


class World:
    def __init__(self, backend: Backend, tenant: str, *, drop_summaries: bool) -> None:
        self.backend, self.store, self.tenant, self.sent = backend, backend.store(), tenant, 0
        self.drop = drop_summaries

    async def summaries(self) -> list[bytes]:
        return [key for _, key in await self.backend.raw_keys() if key.endswith(b":lk:s")]

    async def grant(self, customer: str, at: datetime) -> None:
        """The offer ledger records a grant in the beneficiary's slot (its RECORD script, as ledger.py calls it)."""
        keys = CustomerKeys(self.tenant, customer)
        record = self.backend.client.register_script(RECORD)
        await record(keys=[keys.grants, keys.holds, keys.link_summary], args=[50, 1, repr(at.timestamp()), "trial"])

    async def send(self, at: datetime, specs: tuple[FeatureSpec, ...] = SPECS, **fields: object) -> dict[str, object]:
        self.sent += 1
        event = Event.model_validate({"event_id": f"s{self.sent}", "timestamp": at, **fields})
        if self.drop:
            for node, key in await self.backend.raw_keys():
                if key.endswith(b":lk:s"):
                    await node.delete(key)
        if event.type in OUTCOME_TYPES:
            await self.store.record_outcome(tenant=self.tenant, event=event, specs=specs)
            return {}
        return dict((await self.store.record_and_read(tenant=self.tenant, event=event, specs=specs)).values)


async def _household(world: World) -> list[dict[str, object]]:
    """Three parents on one tablet; grandma pays, then a refund takes it all back; mum changes phone."""
    seen: list[dict[str, object]] = []
    for k, parent in enumerate(("mum", "dad", "grandma")):
        at = DAY0 + timedelta(hours=k)
        seen.append(await world.send(at, type="order", customer=parent, device="tablet", address="12 Garden Rd"))
    # mum and grandma come back once they have peers: their summaries are written
    seen.append(await world.send(DAY0 + timedelta(hours=3), type="coupon_claim", customer="mum", device="tablet"))
    await world.send(DAY0 + timedelta(hours=4), type="order_paid", customer="grandma", amount=99)
    seen.append(await world.send(DAY0 + timedelta(hours=4, minutes=30), type="coupon_claim", customer="grandma",
                                 device="tablet"))  # fmt: skip
    await world.grant("grandma", DAY0 + timedelta(hours=4, minutes=40))  # her trial reward, after her summary
    seen.append(await world.send(DAY0 + timedelta(hours=5), type="coupon_claim", customer="dad", device="tablet"))
    await world.send(DAY0 + timedelta(hours=6), type="refund", customer="grandma", amount=99)
    seen.append(await world.send(DAY0 + timedelta(hours=7), type="coupon_claim", customer="dad", device="tablet"))
    # mum's new phone arrives on an event of a pack without link features: her summary must not hide it
    await world.send(DAY0 + timedelta(hours=8), PLAIN, type="coupon_claim", customer="mum", phone="13800000001")
    seen.append(await world.send(DAY0 + timedelta(hours=9), type="coupon_claim", customer="dad", device="tablet"))
    for day in (1, 2, 8, 9):  # returning, on other devices too
        for parent in ("mum", "grandma"):
            device = "tablet" if day < 8 else f"{parent}-phone"
            at = DAY0 + timedelta(days=day, hours=1)
            seen.append(await world.send(at, type="order", customer=parent, device=device))
        seen.append(await world.send(DAY0 + timedelta(days=day, hours=2), type="coupon_claim", customer="dad",
                                     device="tablet"))  # fmt: skip
    return seen


async def test_the_summaries_give_the_answers_of_the_members_own_keys(backend: Backend, tenant: str) -> None:
    fast = World(backend, f"{tenant}a", drop_summaries=False)
    slow = World(backend, f"{tenant}b", drop_summaries=True)
    got, want = await _household(fast), await _household(slow)
    assert got == want
    assert await fast.summaries(), "the members with peers keep a summary"


async def test_a_refund_shows_in_the_group_on_the_next_event(backend: Backend, tenant: str) -> None:
    seen = await _household(World(backend, tenant, drop_summaries=False))
    paid_before, paid_after = seen[5]["customer.linked_paid_share_30d"], seen[6]["customer.linked_paid_share_30d"]
    assert paid_before == 1 / 3  # grandma paid: one of dad, mum, grandma
    assert paid_after == 0.0  # the refund took it all back
    assert seen[5]["customer.household_rewards_30d"] == 1  # grandma's grant, recorded after her summary
    # mum's new phone, recorded by a pack without link features, counts at once
    before, after = seen[6]["customer.linked_identities_30d"], seen[7]["customer.linked_identities_30d"]
    assert isinstance(before, int) and after == before + 1
