"""Farms whose accounts look honest one by one (DOMAIN.md, "How farms work").

- shared back end (接码 + 改机 + 秒拨): every account a fresh rented number, a spoofed
  device id and a dial-up residential IP, so no device or IP counter builds up; the
  accounts meet only at checkout, on a few wallets and one place typed several ways.
  The dial-up vendor's lines are nationwide or from a few provinces, some in the
  studio's area, per seed; a share of accounts keeps one line for its whole session.
  The platform's numbers come from a few SIM batches (blocks) on some seeds, scattered
  on others (``<family>.batch_share``, 0-100%; slow drips rent from one too).
- slow drip: a few accounts a day for the whole window on a handful of real phones and
  the farmer's home line (or 4G, per seed), each behaving like a parent, all shipping to
  one place, some buying a print now and then to look like one.
- aged accounts (养号): accounts created weeks earlier on a rack of phones, kept warm
  with red packets (and, on some seeds, a cheap print bought here and there), that cash
  out together in one campaign evening.

Pay, release, refund (刷单) has a module of its own: :mod:`engine.simulate.hired_buyers`.

Every size, pace and share is a per-seed knob (:mod:`engine.simulate.knobs`).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.simulate.checkout import farm_checkout, newcomer_claim
from engine.simulate.context import Sim
from engine.simulate.lines import line_in, province_prefixes
from engine.simulate.places import Place, local_phone
from engine.simulate.timeline import DAY, FARM_HOURS, HOUR, MINUTE, PARENT_HOURS
from engine.simulate.units import AGED_CASHOUT, SHARED_BACKEND, SLOW_DRIP, Unit
from engine.simulate.world import CLAIM_MS, ROOTED, TAMPERED, USER_AGENT, WECHAT_UA, Person


def _place(sim: Sim, family: str) -> Place:
    locker = sim.rng.random() < sim.knobs.uniform(f"{family}.locker_share", 0.2, 0.8)
    return Place.locker(sim.rng) if locker else Place.home(sim.rng)


def _batches(sim: Sim, family: str, most: int) -> tuple[list[str], float]:
    """The blocks a code platform's SIM batches came from, and the share of numbers it takes from them.

    Platforms buy SIMs from card dealers (卡商) in batches of consecutive numbers, so many of
    a session's numbers fall in a few blocks; the share varies per seed, down to platforms
    whose numbers are scattered over the country (no batch to see).
    """
    knobs = sim.knobs
    share = knobs.uniform(f"{family}.batch_share", 0.0, 1.0, own_stream=True)
    count = knobs.integer(f"{family}.batches", 1, most, own_stream=True)
    return [sim.ids.rented_block() for _ in range(count)], share


def _account(
    sim: Sim,
    t: float,
    *,
    device: str,
    ip: str,
    virtual_share: float,
    local_share: float = 0.0,
    batches: tuple[list[str], float] = ([], 0.0),
) -> Person:
    ids, rng = sim.ids, sim.rng
    virtual = rng.random() < virtual_share
    blocks, batch_share = batches
    if rng.random() < local_share:
        phone = local_phone(rng, virtual)
    elif blocks and not virtual and rng.random() < batch_share:
        phone = ids.number_in(rng.choice(blocks))
    else:
        phone = ids.phone(virtual=virtual)
    return Person(
        customer=ids.customer_id(),
        device=device,
        ip=ip,
        phone=phone,
        email=ids.farm_email(sim.rng.random() < 0.3) if sim.rng.random() < 0.4 else None,
        address="",
        created=t,
    )


def shared_backend(sim: Sim) -> Unit:
    """One session of 接码 accounts on spoofed devices and dial-up IPs, meeting at checkout."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(SHARED_BACKEND)
    place = _place(sim, SHARED_BACKEND)
    wallets = [ids.wallet() for _ in range(knobs.integer("shared_backend.wallets", 1, 3))]
    virtual_share = knobs.uniform("shared_backend.virtual_share", 0.05, 0.5)
    local_share = knobs.uniform("shared_backend.local_number_share", 0.0, 0.4)  # platforms with local SIMs
    detected = knobs.uniform("shared_backend.spoof_detected", 0.05, 0.6)  # the SDK sees the hook
    gap = knobs.uniform("shared_backend.gap_minutes", 2, 40)
    claim_delay = knobs.uniform("shared_backend.claim_delay_s", 20, 900)
    batches = _batches(sim, SHARED_BACKEND, 6)
    dialup = _dialup(sim)
    sticky = knobs.uniform("shared_backend.sticky_line_share", 0.0, 0.5, own_stream=True)
    t = sim.clock.moment(FARM_HOURS)
    for _ in range(knobs.around(rng, "shared_backend.accounts", 6, 30)):
        t += rng.uniform(0.3, 1.7) * gap * MINUTE
        account = _account(
            sim,
            t,
            device=ids.device_id(),
            ip=dialup(),
            virtual_share=virtual_share,
            local_share=local_share,
            batches=batches,
        )
        flags: dict[str, object] = {TAMPERED: True, ROOTED: rng.random() < 0.5} if rng.random() < detected else {}
        unit.add(t, "signup", account, campaign="trial_99", attributes={**flags, USER_AGENT: WECHAT_UA})
        rotating = rng.random() >= sticky  # 秒拨 per request, or one line kept for the account's session
        account.ip = dialup() if rotating else account.ip
        claimed = newcomer_claim(sim, unit, account, t + rng.uniform(0.2, 1.8) * claim_delay, t, **flags)
        account.ip = dialup() if rotating else account.ip
        farm_checkout(
            sim, unit, account, claimed + rng.uniform(2, 90) * MINUTE, place, rng.choice(wallets), attributes=flags
        )
    return unit


def _dialup(sim: Sim) -> Callable[[], str]:
    """A 秒拨 vendor's lines: residential addresses of many provinces, or of the few the vendor has lines in.

    Per seed: a nationwide pool, or one of one to five provinces (drawn per session, the
    studio's own among them by chance), and a share of lines in the studio's area (a vendor
    with local lines).
    """
    rng, knobs = sim.rng, sim.knobs
    spread = knobs.integer("shared_backend.dialup_provinces", 0, 5, own_stream=True)  # 0: nationwide
    local = knobs.uniform("shared_backend.local_line_share", 0.0, 0.3, own_stream=True)
    pool = tuple(rng.sample(sorted(province_prefixes()), spread)) if spread else tuple(province_prefixes())

    def line() -> str:
        return sim.ids.home_ip() if rng.random() < local else line_in(rng, pool, by_space=False)

    return line


def slow_drip(sim: Sim) -> Unit:
    """A farmer adding a few accounts a day for the whole window, each one a model parent."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(SLOW_DRIP)
    place = _place(sim, SLOW_DRIP)
    phones = [ids.device_id() for _ in range(knobs.integer("slow_drip.phones", 2, 6))]
    local_lines = knobs.uniform("slow_drip.local_line_share", 0.0, 1.0, own_stream=True)  # a farmer in town or not
    lines = [
        ids.home_ip() if rng.random() < local_lines else ids.remote_ip()
        for _ in range(knobs.integer("slow_drip.home_lines", 1, 3))
    ]
    wallets = [ids.wallet() for _ in range(knobs.integer("slow_drip.wallets", 1, 3))]
    per_day = knobs.uniform("slow_drip.accounts_per_day", 0.5, 4)
    virtual_share = knobs.uniform("slow_drip.virtual_share", 0.0, 0.4)
    checkout_share = knobs.uniform("slow_drip.checkout_share", 0.4, 1.0)
    on_4g = knobs.choice("slow_drip.network", ("home_line", "home_line", "mobile_data")) == "mobile_data"
    honest_orders = knobs.uniform("slow_drip.honest_order_share", 0.0, 0.3)  # a print bought to look like a parent
    batches = _batches(sim, SLOW_DRIP, 4)  # the same platform for weeks
    for day in range(sim.clock.days):
        for _ in range(_poisson(sim, per_day)):
            t = sim.clock.start + day * DAY + _hour(sim) * HOUR + rng.random() * HOUR
            ip = ids.mobile_ip() if on_4g else rng.choice(lines)
            account = _account(sim, t, device=rng.choice(phones), ip=ip, virtual_share=virtual_share, batches=batches)
            unit.add(t, "signup", account, campaign="trial_99", attributes={USER_AGENT: WECHAT_UA})
            claimed = newcomer_claim(sim, unit, account, t + rng.uniform(1, 60) * MINUTE, t)
            if sim.groups and rng.random() < 0.5:
                sim.join_group(account, unit, claimed + rng.uniform(1, 30) * MINUTE)
            if rng.random() < checkout_share:
                at = sim.clock.daytime_after(claimed, 10 * MINUTE, 2 * DAY)
                farm_checkout(sim, unit, account, at, place, rng.choice(wallets))
                if rng.random() < honest_orders:
                    at = sim.clock.daytime_after(at, DAY, 5 * DAY)
                    farm_checkout(sim, unit, account, at, place, rng.choice(wallets), amount=299.0, campaign=None)
    return unit


def aged_cashout(sim: Sim) -> Unit:
    """Accounts raised for weeks (养号) that cash out within one campaign evening."""
    rng, ids, knobs = sim.rng, sim.ids, sim.knobs
    unit = sim.unit(AGED_CASHOUT)
    per_phone = knobs.integer("aged_account_cashout.accounts_per_phone", 1, 4)
    exits = [ids.remote_ip() for _ in range(knobs.integer("aged_account_cashout.exits", 1, 4))]
    accounts: list[Person] = []
    rack: list[str] = []
    for _ in range(knobs.around(rng, "aged_account_cashout.accounts", 8, 40)):
        if not rack or len(accounts) % per_phone == 0:
            rack.append(ids.device_id())
        born = sim.clock.start - rng.uniform(7, knobs.uniform("aged_account_cashout.max_age_days", 20, 90)) * DAY
        account = _account(sim, born, device=rack[-1], ip=rng.choice(exits), virtual_share=0.1)
        account.phone = ids.local_phone()  # raised accounts use real local SIMs
        if sim.groups:
            sim.join_group(account, unit, max(born + DAY, sim.clock.start - DAY))
        accounts.append(account)
    evening = _campaign_evening(sim)
    for account in accounts:  # kept warm: a red packet now and then, at a thumb's speed
        for _ in range(rng.randint(0, 2)):
            at = sim.clock.moment(PARENT_HOURS)
            if at < evening and account.groups:
                unit.add(
                    at,
                    "red_packet_claim",
                    account,
                    group=rng.choice(account.groups),
                    campaign="weekly_welfare",
                    amount=5.0,
                    attributes={CLAIM_MS: ids.human_claim_ms()},
                )
    place, wallet = _place(sim, AGED_CASHOUT), ids.wallet()
    # some farms buy a cheap print on a few accounts while raising them, so "never bought" is not true of all
    warm_orders = knobs.uniform("aged_account_cashout.warm_order_share", 0.0, 0.3, own_stream=True)
    for account in accounts:
        if rng.random() < warm_orders:
            at = sim.clock.daytime_after(sim.clock.start, 0, max(0.0, evening - sim.clock.start - DAY))
            farm_checkout(sim, unit, account, at, place, wallet, amount=rng.choice((29.0, 39.0, 59.0)), campaign=None)
    spread = knobs.uniform("aged_account_cashout.spread_minutes", 5, 90)
    for account in accounts:
        at = evening + rng.uniform(0, spread) * MINUTE
        newcomer_claim(sim, unit, account, at, account.created)
        if rng.random() < 0.7:
            farm_checkout(sim, unit, account, at + rng.uniform(1, 20) * MINUTE, place, wallet)
    return unit


def _poisson(sim: Sim, mean: float) -> int:
    count, total = 0, sim.rng.expovariate(1)
    while total < mean:
        count += 1
        total += sim.rng.expovariate(1)
    return count


def _hour(sim: Sim) -> int:
    return sim.rng.choices(range(24), weights=PARENT_HOURS)[0]


def _campaign_evening(sim: Sim) -> float:
    """Double 11 at 20:00 when it falls in the window, else 20:00 on a random later day."""
    start = sim.clock.start
    for day in range(sim.clock.days):
        if sim.clock.local_date(start + day * DAY + 12 * HOUR).strftime("%m-%d") == "11-11":
            return start + day * DAY + 20 * HOUR
    return start + sim.rng.randrange(max(1, sim.clock.days // 2), sim.clock.days) * DAY + 20 * HOUR
