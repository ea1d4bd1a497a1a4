"""Buy-rate rules judge only invitees old enough to have bought (issue 21), on the real store.

The shipped pack's ``invitees_never_buy`` reads ``referrer.settled_invitees_30d`` and
``referrer.settled_paid_share_30d`` (invitees who joined 3+ days ago). Events go through
``FeatureStore.record_and_read`` / ``record_outcome`` on a real Redis, then the pack
decides, as replay and the API do.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from redis.asyncio import Redis

from engine.backends import BackendKind
from engine.evaluation import Evaluation
from engine.events import Event
from engine.rule_engine import prepare
from tests.engine.features.pack_world import World as PackWorld
from tests.engine.features.pack_world import shipped_files

DAY0 = datetime.fromisoformat("2026-11-24T19:00:00+08:00")


def shipped() -> dict[str, str]:
    return shipped_files()


def before_issue_21() -> dict[str, str]:
    """The shipped pack with the buy-rate features over every invitee, as it was."""
    files = shipped()
    path = next(p for p in files if p.endswith("features.yaml"))
    text = files[path]
    assert ", older_than: 3d}" in text
    files[path] = text.replace(", older_than: 3d}", "}")
    return files


class World(PackWorld):
    """One tenant's store and one pack (``files``, compiled here): a referrer's friends sign up."""

    def __init__(self, client: Redis, tenant: str, files: dict[str, str]) -> None:
        super().__init__(client, tenant, prepare(files, BackendKind.PYTHON))

    async def invite(self, referrer: str, friend: str, at: datetime) -> Evaluation:
        """A friend on their own phone and home network signs up through ``referrer``'s poster."""
        n = self.sent
        evaluation = await self.send(
            type="referral", customer=friend, referrer=referrer, device=f"dv-{friend}",
            ip=f"{36 + n % 180}.{n % 250}.{n % 7}.{10 + n % 200}", timestamp=at,
        )  # fmt: skip
        assert evaluation is not None
        return evaluation


async def blogger_burst(world: World) -> list[Evaluation]:
    """A parenting blogger's post: 20 friends in under three hours, each on their own phone."""
    return [await world.invite("blogger", f"fan{k}", DAY0 + timedelta(minutes=8 * k)) for k in range(20)]


@pytest.mark.parametrize("files", [shipped, before_issue_21], ids=["settled", "before"])
async def test_a_bloggers_burst_of_friends_is_not_judged_before_anyone_could_buy(
    redis_client: Redis, tenant: str, files: object
) -> None:
    assert callable(files)
    world = World(redis_client, tenant, files())
    burst = await blogger_burst(world)
    flagged = [e for e in burst if "invitees_never_buy" in e.rule_ids]
    if files is shipped:
        assert flagged == []
        assert {e.decision for e in burst} == {"allow"}
        assert all("referral_reward" in {o.id for o in e.offers} for e in burst)
    else:  # the defect: from the 5th friend on, minutes after they joined
        assert len(flagged) == 16


async def test_a_bloggers_friends_who_bought_keep_the_next_one_allowed(redis_client: Redis, tenant: str) -> None:
    world = World(redis_client, tenant, shipped())
    await blogger_burst(world)
    for k in range(0, 20, 2):  # half of them buy the trial in the following days
        await world.send(type="order_paid", customer=f"fan{k}", amount=99, timestamp=DAY0 + timedelta(days=2, hours=k))
    later = await world.invite("blogger", "fan20", DAY0 + timedelta(days=7))
    assert "invitees_never_buy" not in later.rule_ids and "invitees_rarely_buy" not in later.rule_ids
    assert later.decision == "allow"
    assert {o.id for o in later.offers} == {"trial_99", "referral_reward"}


async def test_a_task_platforms_invitees_are_flagged_a_week_later(redis_client: Redis, tenant: str) -> None:
    """A crowd-work sign-up task: eight invitees one evening, nobody buys; a week on, the next one."""
    world = World(redis_client, tenant, shipped())
    first = [await world.invite("tasker", f"task{k}", DAY0 + timedelta(minutes=20 * k)) for k in range(8)]
    assert [e for e in first if "invitees_never_buy" in e.rule_ids] == []
    next_day = await world.invite("tasker", "task8", DAY0 + timedelta(days=1))
    assert "invitees_never_buy" not in next_day.rule_ids  # a day is too soon to judge
    week_later = await world.invite("tasker", "task9", DAY0 + timedelta(days=7))
    assert "invitees_never_buy" in week_later.rule_ids
    assert week_later.decision == "review"
    assert week_later.offers == ()


async def test_the_settled_count_and_share_cost_one_range_read_not_a_count_more(
    redis_client: Redis, tenant: str
) -> None:
    """The pair reads one ZRANGEBYSCORE (and one HMGET): each redis.call costs Redis ~2.3 us."""
    world = World(redis_client, tenant, shipped())
    for k in range(6):
        await world.invite("tasker", f"task{k}", DAY0 + timedelta(hours=k))
    specs = tuple(
        s for s in world.loaded.ruleset.record_plan["referral"]
        if s.name in ("referrer.settled_invitees_30d", "referrer.settled_paid_share_30d")
    )  # fmt: skip
    assert len(specs) == 2
    await redis_client.config_resetstat()
    event = Event(
        event_id="late", type="referral", customer="task6", referrer="tasker", timestamp=DAY0 + timedelta(days=4)
    )
    values = (await world.store.record_and_read(tenant=tenant, event=event, specs=specs)).values
    assert values == {"referrer.settled_invitees_30d": 6, "referrer.settled_paid_share_30d": 0.0}
    stats = await redis_client.info("commandstats")
    assert "cmdstat_zcount" not in stats
    assert stats["cmdstat_zrangebyscore"]["calls"] == 1


def test_older_than_is_refused_where_it_means_nothing() -> None:
    from engine.compile.pack import compile_files

    pack = """\
tiers:
  - {id: occasional, default: true}
features:
  referrer.settled_devices_7d: {referral: invitee_devices, window: 7d, older_than: 3d}
  referrer.settled_invitees_2d: {referral: invitees, window: 2d, older_than: 3d}
rules:
  - {id: r, code: 1, on: [referral], when: "referrer.settled_devices_7d > 1 or referrer.settled_invitees_2d > 1",
     score: 10, reason: {zh: 测试, en: test}}
"""
    ruleset, diagnostics = compile_files({"p.yaml": pack})
    assert ruleset is None
    assert [d.render() for d in diagnostics] == [
        "p.yaml:4:84 INVALID_VALUE feature 'referrer.settled_devices_7d': 'older_than' applies to referral invitees "
        "and paid_share, not invitee_devices",
        "p.yaml:5:78 BAD_WINDOW feature 'referrer.settled_invitees_2d': 'older_than: 3d' leaves nothing of "
        "'window: 2d'; it must be shorter",
    ]
