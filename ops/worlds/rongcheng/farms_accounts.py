"""Attack families that make accounts: 接码, 群控/改机, 秒拨, the slow drip, 云手机, 号商 and crowd-work trees.

A farmer knows the app and the public campaign rules (a newcomer gift and a 99 trial per new
account, group packets, the referral gift), not the store's rules: he spreads what he can
afford to spread and shares what he cannot avoid. Every knob is drawn per seed into ``k``
(``--show-params``).
"""

from __future__ import annotations

from typing import Any

from ops.worlds.rongcheng.acts import Acts
from ops.worlds.rongcheng.city import Line, Phone
from ops.worlds.rongcheng.parents import DAY
from ops.worlds.rongcheng.store import Ctx, Person

K = dict[str, Any]


def _flags(ctx: Ctx, share: float, kinds: tuple[str, ...]) -> dict[str, bool] | None:
    """The hooks the SDK catches, each as often as the farm's tools fail to hide it."""
    if ctx.rng.random() >= share:
        return None
    return {ctx.rng.choice(kinds): True}


def _account(ctx: Ctx, phone: Phone, line: Line, number: str | None) -> Person:
    p = Person(ctx.city.customer(), phone, line, line, number, None)
    return p


def _cash_out(
    ctx: Ctx,
    acts: Acts,
    p: Person,
    t: float,
    k: K,
    flags: dict[str, bool] | None,
    *,
    line: Line | None = None,
    net: str = "WIFI",
) -> float:
    """What a new account takes: the gift, sometimes a group and its packets, sometimes the trial paid online."""
    rng = ctx.rng
    t += ctx.lognormal(k.get("gift_after_s", 90), 0.8)
    acts.gift(t, p, line=line, net=net, flags=flags)
    if rng.random() < k.get("join_share", 0.0):
        group = rng.choice(ctx.studio.groups)
        acts.join_group(t + rng.uniform(30, 600), p, group)
        for drop in [d for d in ctx.studio.drops if d.group is group and d.t > t][:3]:
            acts.tap(drop, p, ctx.lognormal(40, 1.0), ctx.lognormal(1800, 0.5), line=line, net=net, flags=flags)
    if rng.random() < k.get("trial_share", 0.0):
        acts.buy(
            t + ctx.lognormal(1800, 1.0),
            p,
            99.0,
            line=line,
            net=net,
            flags=flags,
            ship=False,
            wallet=k.get("_wallets", [None])[rng.randrange(len(k.get("_wallets", [None])))],
        )
    return t


def code_platform(ctx: Ctx, k: K, budget: int) -> int:
    """接码: sessions at the farmer's shift hours, a rented number each from a few SIM batches, phones reset."""
    rng, acts = ctx.rng, Acts(ctx, "code_platform", "code_platform")
    k.update(
        phones=rng.randint(2, 8),
        reset_share=round(rng.uniform(0.3, 1.0), 2),
        batches=rng.randint(1, 5),
        virtual_share=round(rng.uniform(0.0, 0.6), 2),
        per_session=(rng.randint(3, 6), rng.randint(7, 16)),
        shift=rng.choice([[0, 5], [12, 14], [19, 23], [9, 18]]),
        proxy_share=round(rng.uniform(0, 0.5), 2),
        join_share=round(rng.uniform(0, 0.4), 2),
        trial_share=round(rng.uniform(0, 0.2), 2),
        flag_share=round(rng.uniform(0.0, 0.25), 2),
        home=rng.choice(["local", "elsewhere"]),
    )
    blocks = [
        rng.choice(ctx.city.phones_table["local_virtual" if rng.random() < k["virtual_share"] else "local"])
        for _ in range(k["batches"])
    ]
    k["_wallets"] = [ctx.city.wallet()]
    phones = [ctx.city.phone(platform="android") for _ in range(k["phones"])]
    home = ctx.city.home_line("local" if k["home"] == "local" else ctx.city.ip_province())
    proxy = Line(ctx.city.cloud_ranges(), sticky=0.3)
    while acts.events < budget:
        t = ctx.at(rng.randrange(ctx.days), rng.uniform(*k["shift"]))
        for _ in range(rng.randint(*k["per_session"])):
            i = rng.randrange(len(phones))
            if rng.random() < k["reset_share"]:
                phones[i] = ctx.city.respoof(phones[i])
            via_proxy = rng.random() < k["proxy_share"]
            line = proxy if via_proxy else home
            p = _account(ctx, phones[i], line, ctx.city.number(block=rng.choice(blocks)))
            flags = _flags(ctx, k["flag_share"], ("rooted", "tampered")) or (
                {"proxy": True} if via_proxy and rng.random() < 0.5 else None
            )
            acts.signup(t, p, line=line, flags=flags)
            _cash_out(ctx, acts, p, t, k, flags, line=line)
            t += ctx.lognormal(240, 0.7)
    k.pop("_wallets")
    return acts.events


def device_farm(ctx: Ctx, k: K, budget: int) -> int:
    """群控: a rack of 12-50 phones on one site Wi-Fi or on SIMs; an account per phone per wave, seconds apart."""
    rng, acts = ctx.rng, Acts(ctx, "device_farm", "device_farm")
    k.update(
        rack=rng.randint(12, 50),
        gap_s=(rng.randint(3, 10), rng.randint(15, 60)),
        on_sims=rng.random() < 0.4,
        spoof_share=round(rng.uniform(0, 0.8), 2),
        flag_share=round(rng.uniform(0.02, 0.3), 2),
        inviters=rng.randint(1, 4),
        join_share=round(rng.uniform(0.1, 0.6), 2),
        site=rng.choice(["local", "elsewhere"]),
    )
    model = rng.choice(ctx.city.devices["android"])[0]
    rack = [ctx.city.phone(platform="android", model=model) for _ in range(k["rack"])]
    site = ctx.city.home_line("local" if k["site"] == "local" else ctx.city.ip_province())
    site.sticky = 0.995
    inviters = [_account(ctx, rack[i], site, ctx.city.number("virtual")) for i in range(k["inviters"])]
    for inv in inviters:
        acts.signup(ctx.at(0, rng.uniform(0.2, 6)), inv, line=site)
    while acts.events < budget:
        t = ctx.at(rng.randrange(ctx.days), rng.uniform(0, 24))
        for i in range(len(rack)):
            if rng.random() < k["spoof_share"]:
                rack[i] = ctx.city.respoof(rack[i])
            line = ctx.city.mobile_line() if k["on_sims"] else site
            p = _account(ctx, rack[i], line, ctx.city.number(rng.choice(["local", "virtual", "sichuan"])))
            flags = _flags(ctx, k["flag_share"], ("emulator", "automation", "rooted", "tampered"))
            acts.signup(t, p, line=line, referrer=rng.choice(inviters).id, flags=flags)
            _cash_out(ctx, acts, p, t, {"gift_after_s": 20, "join_share": k["join_share"]}, flags, line=line)
            t += rng.uniform(*k["gap_s"])
            if acts.events >= budget:
                break
    return acts.events


def dialup_rotation(ctx: Ctx, k: K, budget: int) -> int:
    """秒拨: a fresh residential IP in another province per request, a spoofed device per account, a few user agents."""
    rng, acts = ctx.rng, Acts(ctx, "dialup_rotation", "dialup_rotation")
    k.update(
        per_hour=rng.randint(1, 12),
        shift_hours=rng.randint(2, 8),
        user_agents=rng.randint(2, 6),
        provinces=rng.randint(0, 5),
        invited_share=round(rng.uniform(0.3, 0.95), 2),
        rain_share=round(rng.uniform(0, 0.5), 2),
        local_numbers=round(rng.uniform(0, 0.5), 2),
    )
    uas = [ctx.city.phone(platform="android") for _ in range(k["user_agents"])]
    provinces = [ctx.city.ip_province() for _ in range(k["provinces"])] or sorted(ctx.city.ips["elsewhere"])
    operator = [_account(ctx, uas[0], ctx.city.home_line(), ctx.city.number()) for _ in range(2)]
    for o in operator:
        acts.signup(ctx.at(0, rng.uniform(8, 12)), o)
    while acts.events < budget:
        t = ctx.at(rng.randrange(ctx.days), rng.uniform(0, 24 - k["shift_hours"]))
        for _ in range(k["per_hour"] * k["shift_hours"]):
            line = Line(ctx.city.ips["elsewhere"][rng.choice(provinces)], sticky=0.0)
            device = ctx.city.respoof(rng.choice(uas))
            where = "local" if rng.random() < k["local_numbers"] else ctx.city.province()
            p = _account(ctx, device, line, ctx.city.number(where))
            ref = rng.choice(operator).id if rng.random() < k["invited_share"] else None
            acts.signup(t, p, line=line, referrer=ref, net="4G")
            _cash_out(ctx, acts, p, t, {"gift_after_s": 30}, None, line=line, net="4G")
            t += 3600 / k["per_hour"] * rng.uniform(0.5, 1.5)
    return acts.events


def slow_drip(ctx: Ctx, k: K, budget: int) -> int:
    """1-5 accounts a day for the whole window per dripper (as many drippers as the share holds), each from a
    home line that redials, on 1-3 phones mostly reset between accounts; some pay the trial, nobody comes."""
    rng, acts = ctx.rng, Acts(ctx, "slow_drip", "slow_drip")
    k.update(
        per_day=(1, rng.randint(2, 5)),
        phones=(1, rng.randint(1, 3)),
        reset_share=round(rng.uniform(0.5, 1.0), 2),
        trial_share=round(rng.uniform(0, 0.5), 2),
        wallets=rng.randint(1, 2),
        virtual_share=round(rng.uniform(0, 0.4), 2),
        place_share=round(rng.uniform(0, 1), 2),
        drippers=0,
    )
    while acts.events < budget:
        k["drippers"] += 1
        phones = [ctx.city.phone() for _ in range(rng.randint(*k["phones"]))]
        home = ctx.city.home_line()
        home.sticky = 0.6
        wallets = [ctx.city.wallet() for _ in range(k["wallets"])]
        place = ctx.city.flat()
        for day in range(ctx.days):
            for _ in range(rng.randint(*k["per_day"])):
                i = rng.randrange(len(phones))
                if rng.random() < k["reset_share"]:
                    phones[i] = ctx.city.respoof(phones[i])
                number = ctx.city.number("virtual" if rng.random() < k["virtual_share"] else "local")
                p = _account(ctx, phones[i], home, number)
                t = ctx.at(day, ctx.hour_of_parent())
                acts.signup(t, p, line=home)
                acts.gift(t + ctx.lognormal(600, 1.0), p, line=home)
                if rng.random() < k["trial_share"]:
                    p.place = place if rng.random() < k["place_share"] else ctx.city.flat()
                    p.style = rng.randrange(9)
                    acts.buy(t + ctx.lognormal(7200, 1.0), p, 99.0, line=home, wallet=rng.choice(wallets))
    return acts.events


def cloud_phones(ctx: Ctx, k: K, budget: int) -> int:
    """云手机: rented cloud phones in a data centre, one instance per account, one ROM build, the IDC's addresses."""
    rng, acts = ctx.rng, Acts(ctx, "cloud_phones", "cloud_phones")
    k.update(
        instances=rng.randint(10, 60),
        per_batch=(rng.randint(3, 8), rng.randint(10, 30)),
        emulator_share=round(rng.uniform(0, 0.15), 2),
        referrer_share=round(rng.uniform(0, 0.8), 2),
        rain_share=round(rng.uniform(0.2, 0.9), 2),
        numbers=rng.choice(["local", "virtual", "anywhere"]),
    )
    ranges = ctx.city.cloud_ranges()
    model = rng.choice(ctx.city.devices["android"])[0]
    boss = _account(ctx, ctx.city.phone(), ctx.city.home_line(), ctx.city.number())
    acts.signup(ctx.at(0, rng.uniform(9, 11)), boss)
    while acts.events < budget:
        t = ctx.at(rng.randrange(ctx.days), rng.uniform(0, 24))
        for _ in range(rng.randint(*k["per_batch"])):
            phone = ctx.city.phone(platform="android", model=model)
            line = Line([rng.choice(ranges)], sticky=0.9)
            where = {"local": "local", "virtual": "virtual"}.get(
                k["numbers"], rng.choice(["local", ctx.city.province()])
            )
            p = _account(ctx, phone, line, ctx.city.number(where))
            flags = {"emulator": True} if rng.random() < k["emulator_share"] else None
            ref = boss.id if rng.random() < k["referrer_share"] else None
            acts.signup(t, p, line=line, referrer=ref, flags=flags)
            t2 = _cash_out(ctx, acts, p, t, {"gift_after_s": 60}, flags, line=line)
            if rng.random() < k["rain_share"]:
                group = rng.choice(ctx.studio.groups)
                acts.join_group(t2 + 60, p, group)
                for drop in [d for d in ctx.studio.drops if d.group is group and d.t > t2][:4]:
                    acts.tap(drop, p, ctx.lognormal(3, 0.6), ctx.lognormal(900, 0.4), line=line, flags=flags)
            t += ctx.lognormal(50, 0.8)
    return acts.events


def bought_accounts(ctx: Ctx, k: K, budget: int) -> int:
    """号商: accounts raised in the store's groups months ago, sold; the buyer cashes them out on his own 1-3 phones."""
    rng, acts = ctx.rng, Acts(ctx, "bought_accounts", "bought_accounts")
    k.update(
        accounts=rng.randint(10, 40),
        phones=rng.randint(1, 3),
        aged_days=(rng.randint(20, 60), rng.randint(70, 200)),
        buyer=rng.choice(["local", "elsewhere"]),
        night_share=round(rng.uniform(0.3, 1.0), 2),
    )
    phones = [ctx.city.phone() for _ in range(k["phones"])]
    line = ctx.city.home_line("local" if k["buyer"] == "local" else ctx.city.ip_province())
    while acts.events < budget:
        accounts = []
        for _ in range(k["accounts"]):
            p = _account(ctx, rng.choice(phones), line, None)
            made = ctx.at(0, 0) - rng.uniform(*k["aged_days"]) * DAY
            ctx.log.created[p.id] = made
            acts.join_group(made + rng.uniform(1, 10) * DAY, p, rng.choice(ctx.studio.groups))
            accounts.append(p)
        night = ctx.studio.rain_nights[-1] if rng.random() < k["night_share"] else rng.choice(ctx.studio.rain_nights)
        t = ctx.at(night, 19.9)
        for p in accounts:
            for drop in [
                d for d in ctx.studio.drops if d.group in p.groups and ctx.at(night, 0) <= d.t < ctx.at(night + 1, 0)
            ]:
                acts.tap(drop, p, ctx.lognormal(20, 1.0), ctx.lognormal(1500, 0.5), line=line)
            acts.gift(t, p, line=line)
            t += ctx.lognormal(45, 0.6)
    return acts.events


def referral_tree(ctx: Ctx, k: K, budget: int) -> int:
    """众包: each crowd worker invites 1-5 more, 3-7 levels deep, nationwide, at all hours; nobody buys."""
    rng, acts = ctx.rng, Acts(ctx, "referral_tree", "referral_tree")
    k.update(
        fanout=(1, rng.randint(2, 5)),
        depth=rng.randint(3, 7),
        local_share=round(rng.uniform(0, 0.5), 2),
        gift_share=round(rng.uniform(0.2, 0.9), 2),
    )
    while acts.events < budget:
        root = ctx.person()
        acts.signup(ctx.at(rng.randrange(max(1, ctx.days - 3)), rng.uniform(8, 23)), root)
        level, t0 = [(root, ctx.log.created[root.id])], ctx.log.created[root.id]
        for _ in range(k["depth"]):
            nxt = []
            for parent, t in level:
                for _ in range(rng.randint(*k["fanout"])):
                    where = "local" if rng.random() < k["local_share"] else ctx.city.province()
                    p = ctx.person(where)
                    tj = t + ctx.lognormal(5 * 3600, 1.2)
                    if tj >= ctx.end:
                        continue
                    acts.signup(tj, p, referrer=parent.id, net=rng.choice(["WIFI", "4G"]))
                    if rng.random() < k["gift_share"]:
                        acts.gift(tj + ctx.lognormal(120, 1.0), p, net="4G")
                    nxt.append((p, tj))
            level = nxt or level[:0]
            if not level or acts.events >= budget:
                break
        if t0 >= ctx.end:
            break
    return acts.events
