"""``line_model``: accounts signed up on one line with one Android model and build, on a real Redis and a cluster.

A slow drip's farmer (细水长流) feeds a few accounts a week through his home line from one to
three physical phones, and resets each phone's device id between accounts (改机): every account
is a new device, so the line's phones keep pace with its accounts. The phone's model and OS
build stay. The farmer controls the user agent: other spacing or case, the same account signing
up twice, or no model at all; none of that counts an account twice or makes a line look honest.
An iPhone names no model, and an event without an ip has no line: both have no line-model.
"""

from __future__ import annotations

import random

import pytest
from agent_events import agent_event
from feature_backends import Backend
from feature_oracle import Oracle

from engine.events import Event
from engine.features.keys import entity_value, normalize
from engine.features.spec import PII_ENTITIES, Aggregate, Entity, WindowedFeature

MONTH = WindowedFeature(
    name="line_model.signup_accounts_30d",
    aggregate=Aggregate.DISTINCT,
    by=Entity.LINE_MODEL,
    window_seconds=30 * 86400,
    on=frozenset({"signup", "referral"}),
    field="customer",
)
SPECS = (MONTH,)
DAY = 86400.0

OPPO = "Mozilla/5.0 (Linux; Android 14; PHM110 Build/UKQ1.230924.001; wv) AppleWebKit/537.36 MicroMessenger/8.0.47"
OPPO_OTHER_BUILD = OPPO.replace("UKQ1.230924.001", "TP1A.220905.001")
REDMI = "Mozilla/5.0 (Linux; U; Android 11; zh-cn; M2007J22C Build/RP1A.200720.011) MicroMessenger/8.0.40"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.50"
HOME = "60.177.224.82"


def _event(
    kind: str, customer: str, user_agent: str | None, seconds: float, ip: str | None = HOME, device: str | None = None
) -> Event:
    """Sign up (or claim) on the home line; a new device id per event unless named: the reset phone."""
    return agent_event("lmd", kind, user_agent, seconds, customer=customer, device=device, ip=ip)


async def _read(backend: Backend, tenant: str, event: Event) -> object:
    return (await backend.store().record_and_read(tenant=tenant, event=event, specs=SPECS)).values[MONTH.name]


def test_the_key_is_the_line_and_the_model_and_is_personal() -> None:
    assert entity_value(_event("signup", "c", OPPO, 0), Entity.LINE_MODEL) == f"{HOME} phm110 ukq1.230924.001"
    assert entity_value(_event("signup", "c", IPHONE, 0), Entity.LINE_MODEL) is None  # no model
    assert entity_value(_event("signup", "c", OPPO, 0, ip=None), Entity.LINE_MODEL) is None  # no line
    assert entity_value(_event("signup", "c", None, 0), Entity.LINE_MODEL) is None
    # the ip is personal data: the key is stored as a keyed hash like the ip's own
    assert Entity.LINE_MODEL in PII_ENTITIES
    assert normalize(Entity.LINE_MODEL, " 60.177.224.82 PHM110 UKQ1.230924.001 ") == f"{HOME} phm110 ukq1.230924.001"
    with pytest.raises(ValueError, match="not a line and model"):
        normalize(Entity.LINE_MODEL, HOME)


async def test_a_drip_phone_with_a_new_id_per_account_counts_each_account_once(backend: Backend, tenant: str) -> None:
    # attack: one phone, its id reset per account, signs up an account every two days on the home
    # line, each claiming the gift minutes later; the claims read the month's count
    seen = []
    for n in range(5):
        seen.append(await _read(backend, tenant, _event("signup", f"drip{n}", OPPO, 2 * DAY * n)))
        assert await _read(backend, tenant, _event("coupon_claim", f"drip{n}", OPPO, 2 * DAY * n + 600)) == n + 1
    assert seen == [1, 2, 3, 4, 5]
    # the same account signing up again (a retry, other case in the agent) is no new account
    again = OPPO.replace("PHM110", "phm110")
    assert await _read(backend, tenant, _event("referral", "drip4", again, 2 * DAY * 4 + 900)) == 5
    # 31 days after the first sign-up it has left the month
    assert await _read(backend, tenant, _event("signup", "drip5", OPPO, 31 * DAY)) == 5


async def test_other_lines_builds_iphones_and_missing_agents_count_apart(backend: Backend, tenant: str) -> None:
    # honest look-alikes: the same popular model on a neighbour's line, a family's other phones
    assert await _read(backend, tenant, _event("signup", "p1", OPPO, 0)) == 1
    assert await _read(backend, tenant, _event("signup", "p2", OPPO, 10, ip="60.177.224.83")) == 1  # another line
    assert await _read(backend, tenant, _event("signup", "p3", OPPO_OTHER_BUILD, 20)) == 1  # another build
    assert await _read(backend, tenant, _event("signup", "p4", REDMI, 30)) == 1
    for n in range(6):
        assert await _read(backend, tenant, _event("signup", f"i{n}", IPHONE, 40 + n)) is None
    assert await _read(backend, tenant, _event("signup", "p5", None, 50)) is None
    assert await _read(backend, tenant, _event("signup", "p6", OPPO, 60, ip=None)) is None
    assert await _read(backend, tenant, _event("signup", "p7", OPPO, 70)) == 2


async def test_the_month_matches_a_brute_force_count(backend: Backend, tenant: str) -> None:
    """Random sign-ups, referrals and claims on a few lines, models and accounts against the oracle's definition."""
    rng, oracle, store = random.Random(14), Oracle(), backend.store()
    agents = [OPPO, OPPO_OTHER_BUILD, REDMI, IPHONE, None]
    lines = [HOME, "60.177.224.83", "115.236.20.8", None]
    t = 0.0
    for _ in range(300):
        t += rng.choice((60, 3600, DAY / 2, DAY, 4 * DAY))
        kind = rng.choice(("signup", "referral", "coupon_claim", "order"))
        event = _event(kind, f"c{rng.randrange(30)}", rng.choice(agents), t, ip=rng.choice(lines))
        want = oracle.values(SPECS, event)
        got = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
        assert {name: got[name] for name in want} == want, (t, event)
        oracle.log.append(event)
