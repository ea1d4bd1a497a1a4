"""``subnet_handset``: accounts signed up on one /24 (IPv6 /48) with one handset, on a real Redis and a cluster.

A slow drip's farmer (细水长流) signs up a few accounts a day for weeks from one to three phones,
resetting the device id between accounts (改机), on 4G (a new address per request) or a home line
whose router redials. The addresses change but stay within a few /24s that come back; the phone
keeps its model and build (an iPhone: its iOS version) and its WeChat version. The farmer
controls the user agent: another network type or language, other case or spacing, the same
account signing up twice; none of that counts an account twice. An agent naming no handset, or
an event without an ip, has no subnet-handset.
"""

from __future__ import annotations

import random

import pytest
from agent_events import agent_event
from feature_backends import Backend
from feature_oracle import Oracle

from engine.events import Event
from engine.features.keys import entity_value, normalize
from engine.features.spec import PII_ENTITIES, Aggregate, Entity, TimeUnit, WindowedFeature
from engine.identity.handsets import handset

SIGNUPS = frozenset({"signup", "referral"})
MONTH = WindowedFeature(
    name="subnet_handset.signup_accounts_30d",
    aggregate=Aggregate.DISTINCT,
    by=Entity.SUBNET_HANDSET,
    window_seconds=30 * 86400,
    on=SIGNUPS,
    field="customer",
)
DAY_COUNT = WindowedFeature(
    name="subnet_handset.signup_accounts_24h",
    aggregate=Aggregate.DISTINCT,
    by=Entity.SUBNET_HANDSET,
    window_seconds=86400,
    on=SIGNUPS,
    field="customer",
)
FIRST = WindowedFeature(
    name="subnet_handset.first_signup_days",
    aggregate=Aggregate.FIRST_SEEN,
    by=Entity.SUBNET_HANDSET,
    window_seconds=None,
    on=SIGNUPS,
    unit=TimeUnit.DAYS,
)
LAST = WindowedFeature(
    name="subnet_handset.last_signup_days",
    aggregate=Aggregate.LAST_SEEN,
    by=Entity.SUBNET_HANDSET,
    window_seconds=None,
    on=SIGNUPS,
    unit=TimeUnit.DAYS,
)
NEWCOMERS = frozenset({"signup", "referral", "coupon_claim"})
NEWCOMER_MONTH = WindowedFeature(
    name="subnet_handset.newcomer_accounts_30d",
    aggregate=Aggregate.DISTINCT,
    by=Entity.SUBNET_HANDSET,
    window_seconds=30 * 86400,
    on=NEWCOMERS,
    field="customer",
)
NEWCOMER_DAY = WindowedFeature(
    name="subnet_handset.newcomer_accounts_24h",
    aggregate=Aggregate.DISTINCT,
    by=Entity.SUBNET_HANDSET,
    window_seconds=86400,
    on=NEWCOMERS,
    field="customer",
)
SPECS = (MONTH, DAY_COUNT, FIRST, LAST, NEWCOMER_MONTH, NEWCOMER_DAY)
DAY = 86400.0

HUAWEI = (
    "Mozilla/5.0 (Linux; Android 12; NOH-AN00 Build/HUAWEI12; wv) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Version/4.0 Chrome/126.0 Mobile Safari/537.36 MicroMessenger/8.0.49 WeChat/arm64 NetType/WIFI Language/zh_CN"
)
HUAWEI_5G = HUAWEI.replace("Chrome/126.0", "Chrome/127.0").replace("NetType/WIFI", "NetType/5G")
HUAWEI_NEWER_WECHAT = HUAWEI.replace("MicroMessenger/8.0.49", "MicroMessenger/8.0.50")
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Mobile/15E148 MicroMessenger/8.0.50 NetType/WIFI Language/zh_CN"
)
IPHONE_4G = IPHONE.replace("NetType/WIFI", "NetType/4G").replace("zh_CN", "en")
IPHONE_OTHER_IOS = IPHONE.replace("OS 16_6", "OS 17_4")
IPAD = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 MicroMessenger/8.0.50"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
POOL = "117.136.12."  # a carrier's 4G pool: a new address per request


def _event(
    kind: str, customer: str, user_agent: str | None, seconds: float, ip: str | None = POOL + "7", device: str = ""
) -> Event:
    """Sign up (or claim) on the 4G pool; a new device id per event unless named: the reset phone."""
    return agent_event("shs", kind, user_agent, seconds, customer=customer, device=device, ip=ip)


async def _read(backend: Backend, tenant: str, event: Event) -> dict[str, object]:
    return dict((await backend.store().record_and_read(tenant=tenant, event=event, specs=SPECS)).values)


def test_the_key_is_the_network_and_the_handset_and_is_personal() -> None:
    huawei = f"{POOL}0/24 noh-an00 huawei12 wechat 8.0.49"
    assert entity_value(_event("signup", "c", HUAWEI, 0), Entity.SUBNET_HANDSET) == huawei
    # the same phone on another address of the pool, on 5G, with its WebView updated: the same key
    assert entity_value(_event("signup", "c", HUAWEI_5G, 0, ip=POOL + "201"), Entity.SUBNET_HANDSET) == huawei
    assert entity_value(_event("signup", "c", IPHONE_4G, 0), Entity.SUBNET_HANDSET) == (
        f"{POOL}0/24 iphone os 16_6 wechat 8.0.50"
    )
    assert handset(IPAD) == "ipad os 16_6 wechat 8.0.50"
    v6 = _event("signup", "c", IPHONE, 0, ip="2409:8a1e:6c31:a2f0::1")
    assert entity_value(v6, Entity.SUBNET_HANDSET) == "2409:8a1e:6c31::/48 iphone os 16_6 wechat 8.0.50"
    assert entity_value(_event("signup", "c", BROWSER, 0), Entity.SUBNET_HANDSET) is None  # names no handset
    assert entity_value(_event("signup", "c", None, 0), Entity.SUBNET_HANDSET) is None
    assert entity_value(_event("signup", "c", HUAWEI, 0, ip=None), Entity.SUBNET_HANDSET) is None
    # the network is personal data: the key is stored as a keyed hash like the subnet's own
    assert Entity.SUBNET_HANDSET in PII_ENTITIES
    assert normalize(Entity.SUBNET_HANDSET, f" {POOL}88  NOH-AN00 Huawei12  WeChat 8.0.49 ") == huawei
    assert normalize(Entity.SUBNET_HANDSET, f"{POOL}0/24 noh-an00 huawei12 wechat 8.0.49") == huawei
    for bad in (f"{POOL}0/24", f"{POOL[:-1]}0.0/16 x", "not-an-ip x"):
        with pytest.raises(ValueError):
            normalize(Entity.SUBNET_HANDSET, bad)


async def test_a_drip_phone_on_a_pool_counts_each_account_once(backend: Backend, tenant: str) -> None:
    # attack: one phone, its id reset per account, signs up an account every two days on 4G, each
    # on another address of the pool, each claiming the gift minutes later on yet another address
    for n in range(5):
        got = await _read(backend, tenant, _event("signup", f"drip{n}", HUAWEI, 2 * DAY * n, ip=f"{POOL}{10 + n}"))
        assert got[MONTH.name] == n + 1 and got[DAY_COUNT.name] == 1
        assert got[LAST.name] == (None if n == 0 else pytest.approx(2.0))
        claim = await _read(backend, tenant, _event("coupon_claim", f"drip{n}", HUAWEI_5G, 2 * DAY * n + 600))
        assert claim[MONTH.name] == n + 1
        assert claim[FIRST.name] == pytest.approx(2 * n + 600 / DAY)
    # the same account signing up again (a retry, another case in the agent) is no new account
    again = await _read(
        backend, tenant, _event("referral", "drip4", HUAWEI.replace("NOH-AN00", "noh-an00"), 8 * DAY + 900)
    )
    assert again[MONTH.name] == 5
    # 31 days after the first sign-up it has left the month (the first sign-up is still the first)
    late = await _read(backend, tenant, _event("signup", "drip5", HUAWEI, 31 * DAY))
    assert late[MONTH.name] == 5 and late[FIRST.name] == pytest.approx(31.0)


async def test_a_drip_phone_claiming_on_a_pool_counts_its_claims_there(backend: Backend, tenant: str) -> None:
    # attack (session 14): the farmer signs each account up on the home line, whose router redials into
    # another /24, and claims the gift minutes later on 4G: the pool's /24 never sees a sign-up (1249's
    # streams stay empty there), but it sees the same handset claim for a new account every two days
    for n in range(4):
        home = f"123.112.{30 + n}.8"
        up = await _read(backend, tenant, _event("signup", f"k{n}", HUAWEI, 2 * DAY * n, ip=home))
        assert up[NEWCOMER_MONTH.name] == 1 and up[MONTH.name] == 1
        claim = await _read(
            backend, tenant, _event("coupon_claim", f"k{n}", HUAWEI_5G, 2 * DAY * n + 480, ip=f"{POOL}{60 + n}")
        )
        assert claim[MONTH.name] == 0  # no sign-up on the pool: 1249 reads nothing
        assert claim[NEWCOMER_MONTH.name] == n + 1 and claim[NEWCOMER_DAY.name] == 1
    # the same account claiming twice, or its order (not a newcomer stream's event), adds no account
    again = await _read(backend, tenant, _event("coupon_claim", "k3", HUAWEI, 6 * DAY + 900, ip=POOL + "61"))
    assert again[NEWCOMER_MONTH.name] == 4
    order = await _read(backend, tenant, _event("order", "k9", HUAWEI, 6 * DAY + 950, ip=POOL + "62"))
    assert order[NEWCOMER_MONTH.name] == 4
    # a farmer who writes another WeChat version into the next account's agent is another handset (a limit)
    other = await _read(backend, tenant, _event("coupon_claim", "k5", HUAWEI_NEWER_WECHAT, 7 * DAY, ip=POOL + "63"))
    assert other[NEWCOMER_MONTH.name] == 1


async def test_other_networks_handsets_and_agents_count_apart(backend: Backend, tenant: str) -> None:
    # honest look-alikes: the same phone model in the next /24, a newer WeChat, another iOS, no handset
    async def month(event: Event) -> object:
        return (await _read(backend, tenant, event))[MONTH.name]

    assert await month(_event("signup", "p1", HUAWEI, 0)) == 1
    assert await month(_event("signup", "p2", HUAWEI, 10, ip="117.136.13.7")) == 1  # the next /24
    assert await month(_event("signup", "p3", HUAWEI_NEWER_WECHAT, 20)) == 1
    assert await month(_event("signup", "p4", IPHONE, 30)) == 1
    assert await month(_event("signup", "p5", IPHONE_OTHER_IOS, 40)) == 1
    assert await month(_event("signup", "p6", IPAD, 50)) == 1
    assert await month(_event("signup", "p7", BROWSER, 60)) is None
    assert await month(_event("signup", "p8", HUAWEI, 70, ip=None)) is None
    assert await month(_event("signup", "p9", IPHONE_4G, 80, ip=POOL + "250")) == 2  # p4's handset, another address


async def test_the_windows_match_a_brute_force_recount(backend: Backend, tenant: str) -> None:
    """Random sign-ups, referrals, claims and orders on a few networks, handsets and accounts against the oracle."""
    rng, oracle, store = random.Random(13), Oracle(), backend.store()
    agents = [HUAWEI, HUAWEI_5G, HUAWEI_NEWER_WECHAT, IPHONE, IPHONE_4G, IPHONE_OTHER_IOS, IPAD, BROWSER, None]
    lines = [POOL + "7", POOL + "99", "117.136.13.7", "2409:8a1e:6c31:a2f0::1", "2409:8a1e:6c31:ffff::2", None]
    t = 0.0
    for _ in range(300):  # ~165 days from feature_stream.START: a store clamps an age to its own clock
        t += rng.choice((60, 3600, DAY / 4, DAY / 2, 2 * DAY))
        kind = rng.choice(("signup", "referral", "coupon_claim", "order"))
        event = _event(kind, f"c{rng.randrange(30)}", rng.choice(agents), t, ip=rng.choice(lines))
        want = oracle.values(SPECS, event)
        got = (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values
        assert {name: got[name] for name in want} == pytest.approx(want), (t, event)
        oracle.log.append(event)
