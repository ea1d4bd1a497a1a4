"""Replay feeds its in-memory grants to the link metric ``rewards`` (engine/replay/ledger_feed.py).

Live, "another account of this household already took a reward" reads the offer
ledger's grants of the customer's linked accounts. Replay applies offers in memory, so
the feature read 0 there and a household rule could not be measured. A family on one
tablet: mum takes the newcomer gift, days later dad signs up on the tablet and claims
it; the rule must see mum's gift on dad's claim, not on a stranger's, and not on mum's
own (a customer's own grants are not the household's), with the judge in this process
or in its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from engine.backends import BackendKind
from engine.events import Event
from engine.replay.judge import PackSource
from engine.replay.log import Record
from engine.replay.runner import replay

START = datetime(2026, 11, 3, 10, 0, tzinfo=timezone(timedelta(hours=8)))
PACK = """
pack: {name: household-test, timezone: Asia/Shanghai}
features:
  customer.household_rewards_30d: {link: rewards, window: 30d, fanout: 8}
decision: {review_at: 40, deny_at: 70}
tiers:
  - {id: occasional, default: true}
rules:
  - id: household_reward_taken
    code: 1221
    on: [coupon_claim]
    when: customer.household_rewards_30d >= 1
    score: 10
    reason: {zh: 同一家庭其他账号已领取奖励, en: another account of this household already took a reward}
    mode: shadow
offers:
  - id: gift
    label: 新人礼
    tiers: [occasional]
    on: [coupon_claim]
    effect: {type: coupon, value: 30, description: 新人券}
"""


def world() -> list[Record]:
    records: list[Record] = []

    def add(hours: float, type_: str, customer: str, family: str, **fields: Any) -> None:
        data = {"event_id": f"h{len(records):04d}", "type": type_, "customer": customer,
                "timestamp": (START + timedelta(hours=hours)).isoformat(), **fields}  # fmt: skip
        records.append(Record(Event.model_validate(data), "honest", family))

    add(0, "signup", "mum", "family_tablet", device="tablet")
    add(0.1, "coupon_claim", "mum", "family_tablet", device="tablet")  # her gift: the household's first
    for n in range(300):  # other parents, each on a phone of their own: several batches of the replay
        add(1 + n / 10, "coupon_claim", f"p{n}", "parents", device=f"dv-{n}")
    add(48, "signup", "dad", "family_tablet", device="tablet")
    add(48.1, "coupon_claim", "dad", "family_tablet", device="tablet")  # sees mum's gift
    add(48.2, "coupon_claim", "stranger", "parents", device="dv-own")  # shares nothing with them
    return records


@pytest.mark.parametrize("in_process", [True, False])
async def test_a_household_rule_sees_the_gift_another_account_of_the_household_took(in_process: bool) -> None:
    source = PackSource({"pack.yaml": PACK}, BackendKind.PYTHON)
    summary = (await replay(world(), source, in_process=in_process, batch=16)).summary()
    rule = next(r for r in summary["new"]["rules"] if r["rule"] == "household_reward_taken")
    assert rule["hits"] == 1  # dad's claim: mum's gift, nobody else's
    honest = summary["new"]["families"]["honest"]
    # measured per honest family while it is in shadow: dad's claim is one of the tablet's four events
    assert honest["family_tablet"]["shadow_hit_rates"] == {"household_reward_taken": 0.25}
    assert honest["parents"]["shadow_hit_rates"] == {}
    assert summary["new"]["families"]["honest"]["parents"]["rewards"]["count"] == 301  # every gift granted
