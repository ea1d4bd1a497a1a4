"""Devices a farm rents or buys, and the honest customer who simply buys a new phone.

- cloud phones (云手机): farm accounts on rented cloud-phone instances. Each instance is a
  distinct device id, but a provider's images report the same one to three device models
  and OS builds; the instances leave through the provider's data-centre network or through
  mobile proxies (per seed), and the farm's script runs them at machine-regular times: one
  account every ``period`` seconds, give or take a second or two, day after day at the same
  hour.
- bought accounts (号商): a seller signs accounts up days before, on his own few phones,
  line and SIMs, and keeps them warm like parents (a group, a red packet now and then); the
  buyer takes each over at once, on his own phone, line (usually another province) and
  number, at its first reward: it claims what it can and goes quiet.
- a new phone (honest, ``new_phone_upgrade``): an old customer, who has paid before, moves
  to a new device and often a new number, on the same home line or the city's 4G, and goes
  on buying and coming to the studio. On some seeds a recent newcomer does it too.

The device model is what the mini-program SDK's ``user_agent`` says (``Linux; Android 14;
PHM110 Build/...``); :func:`android_user_agent` renders it. Every size, pace and share is a
per-seed knob of its own stream (:mod:`engine.simulate.knobs`), so adding these families
re-draws no other family's knobs.
"""

from __future__ import annotations

import hashlib

from engine.simulate.checkout import farm_checkout, newcomer_claim
from engine.simulate.context import Sim
from engine.simulate.honest import paid_order
from engine.simulate.places import Place
from engine.simulate.timeline import DAY, FARM_HOURS, HOUR, MINUTE
from engine.simulate.units import BOUGHT_ACCOUNTS, CLOUD_PHONES, HONEST, NEW_PHONE_UPGRADE, Unit
from engine.simulate.world import CLAIM_MS, ROOTED, USER_AGENT, WECHAT_UA, Person

#: Android phones parents carry, most popular first, with their build prefixes (what a WeChat
#: user agent names). A parent's model is a pure function of the device id (no RNG drawn).
PARENT_MODELS: tuple[tuple[str, str, int], ...] = (
    ("M2007J22C", "REDMI", 11),
    ("23127PN0CC", "XIAOMI", 14),
    ("V2309A", "VIVO", 14),
    ("PHM110", "OPPO", 14),
    ("22081212C", "REDMI", 13),
    ("PGT-AN10", "HONOR", 14),
    ("ALN-AL00", "HUAWEI", 12),
    ("PJD110", "ONEPLUS", 14),
    ("V2219A", "VIVO", 13),
    ("2201123C", "XIAOMI", 12),
    ("PFJM10", "OPPO", 13),
    ("NOH-AN00", "HUAWEI", 12),
)
_MODEL_WEIGHTS = (18, 14, 12, 11, 9, 8, 7, 6, 5, 4, 3, 3)
#: Models cloud-phone providers' images report: dated mid-range phones, and a few popular ones.
CLOUD_MODELS: tuple[tuple[str, str, int], ...] = (
    ("SM-G9860", "SAMSUNG", 10),
    ("V1916A", "VIVO", 10),
    ("PCLM10", "OPPO", 10),
    ("M2004J7AC", "REDMI", 10),
    ("ELS-AN00", "HUAWEI", 10),
    ("MI 9", "XIAOMI", 11),
)


def android_user_agent(model: str, brand: str, android: int, *, build: str = "") -> str:
    """A WeChat mini-program user agent naming the phone's model and OS build."""
    build = build or f"{brand}{android}"
    return (
        f"Mozilla/5.0 (Linux; Android {android}; {model} Build/{build}; wv) AppleWebKit/537.36 "
        f"(KHTML, like Gecko) Version/4.0 Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0.47 "
        f"WeChat/arm64 NetType/WIFI Language/zh_CN MiniProgramEnv/android"
    )


def parent_user_agent(user_agent: str, device: str | None) -> str:
    """The model-less Android user agent of the simulator's parents dressed with their phone's model.

    Drawn from ``device`` by hash, so a log's RNG stream (and every other field) is unchanged.
    """
    if user_agent != WECHAT_UA or not device:
        return user_agent
    roll = int.from_bytes(hashlib.blake2b(device.encode(), digest_size=4).digest(), "big") % sum(_MODEL_WEIGHTS)
    for (model, brand, android), weight in zip(PARENT_MODELS, _MODEL_WEIGHTS, strict=True):
        if roll < weight:
            return android_user_agent(model, brand, android)
        roll -= weight
    return user_agent


def cloud_phones(sim: Sim) -> Unit:
    """One farm's rented cloud-phone instances, run by a script at regular times for a few days."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(CLOUD_PHONES)
    popular = knobs.uniform("cloud_phones.popular_model_share", 0.0, 0.5, own_stream=True)
    images = []
    for _ in range(knobs.integer("cloud_phones.images", 1, 3, own_stream=True)):
        model, brand, android = rng.choice(PARENT_MODELS if rng.random() < popular else CLOUD_MODELS)
        images.append(android_user_agent(model, brand, android, build=f"{brand}{android}.{rng.randrange(100, 999)}"))
    network = knobs.choice("cloud_phones.network", ("provider", "provider", "mobile_proxy"))
    exits = [f"{ids.idc_subnet()}.{rng.randrange(2, 250)}" for _ in range(rng.randint(2, 12))]
    period = knobs.uniform("cloud_phones.period_s", 20, 240, own_stream=True)
    jitter = knobs.uniform("cloud_phones.jitter_s", 0.2, 4, own_stream=True)
    virtual_share = knobs.uniform("cloud_phones.virtual_share", 0.0, 0.6, own_stream=True)
    referral_share = knobs.uniform("cloud_phones.referral_share", 0.0, 0.8, own_stream=True)
    flagged = knobs.uniform("cloud_phones.root_detected", 0.0, 0.3, own_stream=True)
    referrers = [ids.customer_id() for _ in range(rng.randint(1, 3))]
    start = sim.clock.moment(FARM_HOURS)
    for day in range(knobs.around(rng, "cloud_phones.days", 1, 4)):
        t = start + day * DAY + rng.uniform(-2, 2) * MINUTE  # the same hour every day: a scheduled job
        for _ in range(knobs.around(rng, "cloud_phones.accounts_per_session", 6, 30)):
            t += period + rng.uniform(-jitter, jitter)
            account = Person(
                customer=ids.customer_id(),
                device=ids.device_id(),  # one instance per account
                ip=rng.choice(exits) if network == "provider" else ids.mobile_ip(anywhere=True),
                phone=ids.phone(virtual=rng.random() < virtual_share),
                email=None,
                address="",
                created=t,
            )
            flags: dict[str, object] = {USER_AGENT: rng.choice(images)}
            if rng.random() < flagged:
                flags[ROOTED] = True
            if rng.random() < referral_share:
                unit.add(t, "referral", account, referrer=rng.choice(referrers), campaign="trial_99", attributes=flags)
            else:
                unit.add(t, "signup", account, campaign="trial_99", attributes=flags)
            claimed = newcomer_claim(sim, unit, account, t + period / 3 + rng.uniform(-jitter, jitter), t, **flags)
            if sim.groups and rng.random() < 0.3:
                sim.join_group(account, unit, claimed + rng.uniform(5, 60))
    return unit


def bought_accounts(sim: Sim) -> Unit:
    """A seller's aged accounts, each taken over by its buyer at its first reward, who then goes quiet."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(BOUGHT_ACCOUNTS)
    seller_phones = [
        ids.device_id() for _ in range(knobs.integer("bought_accounts.seller_phones", 1, 4, own_stream=True))
    ]
    seller_line = ids.remote_ip()
    local_buyers = knobs.uniform("bought_accounts.local_buyer_share", 0.0, 0.3, own_stream=True)
    per_buyer = knobs.integer("bought_accounts.accounts_per_buyer", 1, 3, own_stream=True)
    checkout = knobs.uniform("bought_accounts.checkout_share", 0.0, 0.5, own_stream=True)
    place = Place.locker(rng) if rng.random() < 0.5 else Place.home(rng)
    buyer_device, buyer_ip = ids.device_id(), ids.remote_ip()
    for index in range(knobs.around(rng, "bought_accounts.accounts", 4, 20)):
        # the log holds only paid history before its window: the seller's accounts are born in its first days
        aged = knobs.uniform("bought_accounts.min_age_days", 3, 6, own_stream=True)
        born = sim.clock.start + rng.uniform(0, max(0.5, sim.clock.days - aged - 4)) * DAY
        account = Person(
            customer=ids.customer_id(),
            device=rng.choice(seller_phones),
            ip=seller_line,
            phone=ids.phone(),
            email=None,
            address="",
            created=born,
        )
        unit.add(born, "signup", account, attributes={USER_AGENT: WECHAT_UA})
        if sim.groups:
            sim.join_group(account, unit, born + rng.uniform(1, 48) * HOUR)
        sold = sim.clock.daytime_after(born, aged * DAY, (aged + 4) * DAY)
        for _ in range(rng.randint(0, 3)):  # kept warm by the seller, at a thumb's speed
            at = rng.uniform(born + DAY, sold)
            if account.groups and at < sold:
                unit.add(
                    at,
                    "red_packet_claim",
                    account,
                    group=rng.choice(account.groups),
                    campaign="weekly_welfare",
                    amount=5.0,
                    attributes={CLAIM_MS: ids.human_claim_ms()},
                )
        if index % per_buyer == 0:  # the next buyer, on his own phone and line
            buyer_device = ids.device_id()
            buyer_ip = ids.home_ip() if rng.random() < local_buyers else ids.remote_ip()
        account.device, account.ip, account.phone = buyer_device, buyer_ip, ids.phone()  # all at once
        claimed = newcomer_claim(sim, unit, account, sold, born)
        if account.groups and rng.random() < 0.5:
            unit.add(
                claimed + rng.uniform(1, 30) * MINUTE,
                "coupon_claim",
                account,
                campaign="season_reshoot",
                amount=200.0,
                coupon=ids.token("cp"),
            )
        if rng.random() < checkout:
            farm_checkout(sim, unit, account, claimed + rng.uniform(5, 60) * MINUTE, place, ids.wallet())
    return unit


def new_phone_upgrade(sim: Sim) -> Unit:
    """A customer moves to a new phone (and often a new number), then goes on as a customer."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(HONEST, NEW_PHONE_UPGRADE)
    t = sim.clock.moment()
    recent = knobs.uniform("new_phone_upgrade.newcomer_share", 0.0, 0.3, own_stream=True)
    newcomers = [p for p in sim.newcomers if p.created < t - DAY]
    person = rng.choice(newcomers) if newcomers and rng.random() < recent else sim.existing_before(t)
    person.device = ids.device_id()
    if rng.random() < knobs.uniform("new_phone_upgrade.new_number_share", 0.3, 0.9, own_stream=True):
        person.phone = ids.local_phone()
    on_4g = rng.random() < 0.3
    ip = ids.mobile_ip() if on_4g else person.ip
    if person.groups and rng.random() < 0.6:
        unit.add(
            t,
            "red_packet_claim",
            person,
            ip=ip,
            group=rng.choice(person.groups),
            campaign="weekly_welfare",
            amount=5.0,
            attributes={CLAIM_MS: ids.human_claim_ms()},
        )
    roll = rng.random()
    if roll < 0.5:
        unit.add(
            t + rng.uniform(1, 60) * MINUTE,
            "coupon_claim",
            person,
            ip=ip,
            campaign="season_reshoot",
            amount=200.0,
            coupon=ids.token("cp"),
        )
    if roll < 0.85:
        paid_order(sim, unit, person, sim.clock.daytime_after(t, HOUR, 4 * DAY), rng.choice((299.0, 1500.0)))
        unit.add(sim.clock.daytime_after(t, DAY, 8 * DAY), "store_visit", customer=person.customer)
    else:
        unit.add(
            t + rng.uniform(1, 10) * MINUTE,
            "coupon_claim",
            person,
            ip=ip,
            campaign="winback",
            amount=50.0,
            coupon=ids.token("cp"),
        )
    return unit


#: Attack families' shares of a log's events, honest look-alikes' shares, and their story makers.
SHARES = {CLOUD_PHONES: 0.012, BOUGHT_ACCOUNTS: 0.008}
LOOKALIKE_SHARES = {NEW_PHONE_UPGRADE: 0.01}
UNITS = {CLOUD_PHONES: cloud_phones, BOUGHT_ACCOUNTS: bought_accounts, NEW_PHONE_UPGRADE: new_phone_upgrade}
