"""The shipped pack's third-level rule through the real store: a chain below a payer passes, a tree is held.

Events go through ``record_outcome`` / ``record_and_read`` with the pack's own record plan
(what each event type feeds), so a paid order must mark the payer although no rule reads
``chain_paid`` on an ``order_paid``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis

from engine.backends import BackendKind
from engine.compile.pack import compile_files
from engine.evaluation import Evaluation
from engine.events import OUTCOME_TYPES, Event
from engine.features.spec import Entity
from engine.features.store import FeatureStore
from engine.pack.loader import read_pack_files
from engine.rule_engine import prepare

RULES = Path(__file__).parents[3] / "rules"
SECRET = b"test-secret-0123456789abcdef"
DAY0 = datetime.fromisoformat("2026-11-24T11:50:00+08:00")


class Studio:
    def __init__(self, client: Redis, tenant: str) -> None:
        self.store = FeatureStore(client, secret=SECRET)
        self.tenant = tenant
        self.loaded = prepare(read_pack_files(RULES), BackendKind.PYTHON)
        self.sent = 0

    async def send(self, minutes: float, **fields: object) -> Evaluation | None:
        self.sent += 1
        at = DAY0 + timedelta(minutes=minutes)
        event = Event.model_validate({"event_id": f"e{self.sent}", "timestamp": at, **fields})
        specs = self.loaded.ruleset.record_plan[event.type]
        if event.type in OUTCOME_TYPES:
            await self.store.record_outcome(tenant=self.tenant, event=event, specs=specs)
            return None
        snapshot = await self.store.record_and_read(tenant=self.tenant, event=event, specs=specs)
        return self.loaded.evaluate(event, snapshot.values)

    async def invite(self, minutes: float, referrer: str, friend: str) -> list[str]:
        n = self.sent
        evaluation = await self.send(
            minutes, type="referral", customer=friend, referrer=referrer, device=f"dv-{friend}",
            ip=f"{36 + n % 180}.{n % 250}.{n % 7}.{10 + n % 200}",
        )  # fmt: skip
        assert evaluation is not None
        return [r.rule for r in evaluation.reasons]


async def test_a_chain_below_a_paying_parent_passes_and_a_tree_that_never_pays_is_held(
    redis_client: Redis, tenant: str
) -> None:
    studio = Studio(redis_client, tenant)
    await studio.send(-60 * 24 * 30, type="order_paid", customer="parent", amount=1500.0)
    assert await studio.invite(-60 * 24 * 9, "parent", "friend") == []
    assert await studio.invite(-60 * 24 * 5, "friend", "colleague") == []
    # the colleague (who has not bought yet) shares the poster at lunch: the third level
    assert "referral_chain_third_level" not in await studio.invite(0, "colleague", "office1")
    # a crowd-work task: nobody up the chain ever paid
    assert await studio.invite(10, "root", "w1") == []
    assert await studio.invite(70, "w1", "w2") == []
    assert "referral_chain_third_level" in await studio.invite(130, "w2", "w3")


async def test_a_tree_workers_newcomer_claim_is_held_and_a_colleagues_is_not(redis_client: Redis, tenant: str) -> None:
    studio = Studio(redis_client, tenant)

    async def claim(minutes: float, customer: str) -> list[str]:
        evaluation = await studio.send(
            minutes, type="coupon_claim", customer=customer, campaign="newcomer_gift", coupon=f"cp-{customer}",
            amount=30.0, device=f"dv-{customer}",
        )  # fmt: skip
        assert evaluation is not None
        return [r.rule for r in evaluation.reasons]

    await studio.send(-60 * 24 * 30, type="order_paid", customer="parent", amount=1500.0)
    for at, referrer, friend in (
        (-60 * 24 * 9, "parent", "friend"),
        (-60 * 24 * 5, "friend", "colleague"),
        (0, "colleague", "office1"),
    ):
        await studio.invite(at, referrer, friend)
    assert "tree_worker_claim" not in await claim(5, "office1")
    for at, referrer, worker in ((10, "root", "w1"), (70, "w1", "w2"), (130, "w2", "w3")):
        await studio.invite(at, referrer, worker)
    assert "tree_worker_claim" in await claim(140, "w3")


PACK = """pack: {name: chains}
decision: {review_at: 50, deny_at: 80}
tiers:
  - {id: occasional, default: true}
rules:
  - id: deep
    code: 1
    on: [coupon_claim]
    when: "customer.deep >= 3 and customer.paid == 0"
    score: 50
    reason: {zh: 深, en: deep}
features:
  customer.deep: {referral: depth, by: customer}
  customer.paid: {referral: chain_paid, by: customer}
"""


def test_only_depth_and_chain_paid_read_the_customers_own_upline() -> None:
    ruleset, diagnostics = compile_files({"p.yaml": PACK})
    assert diagnostics == [] and ruleset is not None
    assert ruleset.features["customer.deep"].by is Entity.CUSTOMER  # type: ignore[union-attr]
    assert ruleset.features["customer.paid"] in ruleset.record_plan["order_paid"]  # a paid order marks the payer
    wrong = PACK.replace("{referral: chain_paid, by: customer}", "{referral: invitees, window: 7d, by: customer}")
    _, diagnostics = compile_files({"p.yaml": wrong})
    assert [d.code for d in diagnostics] == ["UNKNOWN_ENTITY"]
    assert "depth, chain_paid and days_since_paid also by: customer" in diagnostics[0].message


async def test_a_tree_hung_under_a_paying_customers_poster_is_held_once_its_first_workers_had_time_to_buy(
    redis_client: Redis, tenant: str
) -> None:
    """The attack on chain_paid: start the tree from a paying parent's public poster.

    Everyone below then has a payer up the chain, so the chain alone vouches for them for
    the three days a buy rate needs; from then on the referrer's own subtree, which never
    buys, holds the tree's next levels again.
    """
    studio = Studio(redis_client, tenant)
    await studio.send(-60 * 24 * 30, type="order_paid", customer="blogger", amount=1500.0)
    for at, referrer, worker in ((0, "blogger", "w1"), (60, "w1", "w2"), (120, "w2", "w3"), (180, "w3", "w4")):
        await studio.invite(at, referrer, worker)
    assert "referral_chain_third_level" not in await studio.invite(240, "w3", "w5")  # the grace the attack buys
    assert "referral_chain_third_level" in await studio.invite(60 * 24 * 4, "w3", "w6")  # w4, w5 never bought
