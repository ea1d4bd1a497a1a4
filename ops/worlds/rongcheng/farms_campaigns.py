"""Attack families on the campaigns and the checkout: 养号, scripts, 自己拼自己, 团长, code resale,
a shared back end, 刷单 and 代付 scalping.

As in ``farms_accounts``: what a farmer knows is the app and the campaigns' public rules; each
knob is drawn per seed into ``k``.
"""

from __future__ import annotations

from ops.worlds.rongcheng.acts import Acts
from ops.worlds.rongcheng.city import Line
from ops.worlds.rongcheng.farms_accounts import K, _account, _flags
from ops.worlds.rongcheng.parents import DAY
from ops.worlds.rongcheng.store import Ctx, Person


def aged_accounts(ctx: Ctx, k: K, budget: int) -> int:
    """养号: 4-15 accounts per operator raised from the first days like parents, cashed out on the rain's last night."""
    rng, acts = ctx.rng, Acts(ctx, "aged_accounts", "aged_accounts")
    k.update(
        per_operator=(rng.randint(4, 7), rng.randint(8, 15)),
        phones=(1, rng.randint(1, 4)),
        warm_trial_share=round(rng.uniform(0, 0.3), 2),
        cashout_gap_s=rng.randint(10, 120),
        groupbuy=rng.random() < 0.6,
    )
    night = ctx.studio.rain_nights[-1]
    while acts.events < budget:
        phones = [ctx.city.phone() for _ in range(rng.randint(*k["phones"]))]
        home = ctx.city.home_line()
        accounts: list[Person] = []
        for _ in range(rng.randint(*k["per_operator"])):
            p = _account(ctx, rng.choice(phones), home, ctx.city.number())
            t = ctx.at(rng.randrange(min(3, ctx.days)), ctx.hour_of_parent())
            acts.signup(t, p, line=home)
            group = rng.choice(ctx.studio.groups)
            acts.join_group(t + rng.uniform(300, 7200), p, group)
            for drop in [d for d in ctx.studio.drops if d.group is group and t < d.t < ctx.at(night, 0)]:
                if rng.random() < 0.6:
                    acts.tap(drop, p, ctx.lognormal(300, 1.2), ctx.lognormal(2400, 0.45), line=home)
            if rng.random() < k["warm_trial_share"]:
                acts.buy(t + rng.uniform(1, 2) * DAY, p, 99.0, line=home, ship=False)
            accounts.append(p)
        t = ctx.at(night, 20.0)
        for p in accounts:
            for drop in [d for d in ctx.studio.drops if d.group in p.groups and ctx.at(night, 0) <= d.t]:
                acts.tap(drop, p, rng.uniform(0.5, 8), ctx.lognormal(1400, 0.4), line=home)
            acts.gift(t + rng.uniform(5, 60), p, line=home)
            t += rng.uniform(0.5, 1.5) * k["cashout_gap_s"]
        if k["groupbuy"]:
            for i in range(0, len(accounts) - 2, 3):
                gb = ctx.city.groupbuy()
                for p in accounts[i : i + 3]:
                    acts.groupbuy(t, p, gb, line=home)
                    t += rng.uniform(20, 90)
    return acts.events


def packet_scripts(ctx: Ctx, k: K, budget: int) -> int:
    """Auto-clickers on phones (``claim_ms`` 60-420) or 协议抢 at the API from servers, 0.05-2 s after it opens."""
    rng, acts = ctx.rng, Acts(ctx, "packet_scripts", "packet_scripts")
    k.update(
        accounts=rng.randint(3, 12),
        api_share=round(rng.uniform(0, 1), 2),
        groups=rng.randint(2, 6),
        automation_seen=round(rng.uniform(0, 0.4), 2),
        forge_device=rng.random() < 0.5,
        fake_claim_ms=rng.random() < 0.5,
    )
    servers = Line(ctx.city.cloud_ranges(), sticky=0.7)
    copied_ua = ctx.city.phone(platform="ios").user_agent("WIFI")
    groups = rng.sample(ctx.studio.groups, min(k["groups"], len(ctx.studio.groups)))
    while acts.events < budget:
        accounts = []
        for _ in range(k["accounts"]):
            p = _account(ctx, ctx.city.phone(platform="android"), ctx.city.home_line(), None)
            made = ctx.at(0, 0) - rng.uniform(5, 60) * DAY
            ctx.log.created[p.id] = made
            for g in groups:
                acts.join_group(made + rng.uniform(0, 4) * DAY, p, g)
            accounts.append(p)
        for drop in ctx.studio.drops:
            for p in accounts:
                if drop.group not in p.groups or acts.events >= budget:
                    continue
                if rng.random() < k["api_share"]:
                    ms = ctx.lognormal(2200, 0.3) if k["fake_claim_ms"] else None
                    device = ctx.city.respoof(p.phone) if k["forge_device"] else p.phone
                    holder = Person(p.id, device, servers, servers)
                    acts.tap(
                        drop, holder, rng.uniform(0.05, 0.6), ms, line=servers, ua=copied_ua, device=rng.random() < 0.7
                    )
                else:
                    flags = {"automation": True} if rng.random() < k["automation_seen"] else None
                    acts.tap(drop, p, rng.uniform(0.2, 2.0), rng.uniform(60, 420), flags=flags)
        if acts.events < budget and k["accounts"] < 40:
            k["accounts"] += 2  # a second crew only if the first did not fill its share
        else:
            break
    return acts.events


def self_dealing_groupbuy(ctx: Ctx, k: K, budget: int) -> int:
    """自己拼自己: a leader fills 3-person 拼团s with her alt accounts on the 1-3 phones she has, minutes apart."""
    rng, acts = ctx.rng, Acts(ctx, "self_dealing_groupbuy", "self_dealing_groupbuy")
    k.update(
        phones=(1, rng.randint(1, 3)),
        one_wallet_share=round(rng.uniform(0.3, 1), 2),
        gap_min=(rng.randint(1, 4), rng.randint(5, 40)),
        mobile_share=round(rng.uniform(0, 0.5), 2),
    )
    while acts.events < budget:
        phones = [ctx.city.phone() for _ in range(rng.randint(*k["phones"]))]
        home, place = ctx.city.home_line(), ctx.city.flat()
        wallet = ctx.city.wallet()
        gb = ctx.city.groupbuy()
        t = ctx.at(rng.randrange(ctx.days), ctx.hour_of_parent())
        for n in range(3):
            p = _account(ctx, phones[n % len(phones)], home, ctx.city.number(rng.choice(["local", "local", "virtual"])))
            p.place, p.style = place, rng.randrange(9)
            p.mobile = ctx.city.mobile_line()
            net = "4G" if rng.random() < k["mobile_share"] else "WIFI"
            acts.signup(t - rng.uniform(60, 900), p, net=net)
            acts.groupbuy(t, p, gb, net=net, address=place.typed(p.style))
            acts.buy(
                t + rng.uniform(30, 200),
                p,
                69.0,
                net=net,
                wallet=wallet if rng.random() < k["one_wallet_share"] else None,
            )
            if n == 0 and rng.random() < 0.3:
                acts.visit(t + rng.uniform(2, 6) * DAY, p, rng.choice(ctx.studio.branches)["id"])
            t += rng.uniform(*k["gap_min"]) * 60
    return acts.events


def group_leader(ctx: Ctx, k: K, budget: int) -> int:
    """团长: a deal group's leader posts each new 拼团 to her 薅羊毛 group; strangers fill it in minutes, few come."""
    rng, acts = ctx.rng, Acts(ctx, "group_leader", "group_leader")
    k.update(
        leaders=rng.randint(1, 3),
        alts=rng.randint(1, 4),
        fill_s=(rng.randint(20, 60), rng.randint(90, 600)),
        come_share=round(rng.uniform(0.05, 0.3), 2),
        gift_share=round(rng.uniform(0.3, 0.9), 2),
        elsewhere_share=round(rng.uniform(0, 0.3), 2),
    )
    leaders = []
    for _ in range(k["leaders"]):
        phone, home = ctx.city.phone(), ctx.city.home_line()
        leaders.append([_account(ctx, phone, home, ctx.city.number()) for _ in range(k["alts"])])
    while acts.events < budget:
        alts = rng.choice(leaders)
        opener = rng.choice(alts)
        t = ctx.at(rng.randrange(ctx.days), rng.choice([8.5, 12.2, 20.5, 21.5]) + rng.random() * 0.5)
        if opener.id not in ctx.log.created:
            acts.signup(t - 300, opener)
        gb = ctx.city.groupbuy()
        acts.groupbuy(t, opener, gb)
        for _ in range(2):
            t += rng.uniform(*k["fill_s"])
            where = ctx.city.province() if rng.random() < k["elsewhere_share"] else "local"
            hunter = ctx.person(where)
            acts.signup(t - rng.uniform(20, 90), hunter, net=rng.choice(["WIFI", "4G"]))
            if rng.random() < k["gift_share"]:
                acts.gift(t - rng.uniform(5, 15), hunter, net="4G")
            acts.groupbuy(t, hunter, gb, net="4G")
            acts.buy(t + rng.uniform(20, 120), hunter, 69.0, net="4G", ship=False)
            if rng.random() < k["come_share"]:
                acts.visit(t + rng.uniform(2, 9) * DAY, hunter, rng.choice(ctx.studio.branches)["id"])
    return acts.events


def code_resale(ctx: Ctx, k: K, budget: int) -> int:
    """A member sells the groups' codes on 闲鱼: strangers sign up and redeem a group's code without joining it."""
    rng, acts = ctx.rng, Acts(ctx, "code_resale", "code_resale")
    k.update(
        codes=rng.randint(1, 4),
        proxy_claim_share=round(rng.uniform(0, 0.5), 2),
        elsewhere_share=round(rng.uniform(0.1, 0.8), 2),
        come_share=round(rng.uniform(0, 0.15), 2),
    )
    groups = rng.sample(ctx.studio.groups, min(k["codes"], len(ctx.studio.groups)))
    seller = _account(ctx, ctx.city.phone(), ctx.city.home_line(), ctx.city.number())
    while acts.events < budget:
        g = rng.choice(groups)
        t = ctx.at(rng.randrange(ctx.days), rng.uniform(7, 24))
        where = ctx.city.province() if rng.random() < k["elsewhere_share"] else "local"
        buyer = ctx.person(where)
        acts.signup(t, buyer, net=rng.choice(["WIFI", "4G"]))
        if rng.random() < k["proxy_claim_share"]:
            stand_in = Person(buyer.id, seller.phone, seller.home, seller.home)  # 代领: claimed from the seller's phone
            acts.gift(t + ctx.lognormal(600, 1), stand_in, code=g.code, group=g)
        else:
            acts.gift(t + ctx.lognormal(120, 1), buyer, code=g.code, group=g)
        if rng.random() < k["come_share"]:
            acts.buy(t + DAY, buyer, 99.0, ship=False)
            acts.visit(t + rng.uniform(2, 7) * DAY, buyer, rng.choice(ctx.studio.branches)["id"])
    return acts.events


def shared_backend(ctx: Ctx, k: K, budget: int) -> int:
    """Accounts that look honest alone (own phone, own network, local or rented numbers); each back end's
    checkouts pay from 1-3 wallets and ship to one flat or parcel point typed 2-6 ways, a few a day."""
    rng, acts = ctx.rng, Acts(ctx, "shared_backend", "shared_backend")
    k.update(
        wallets=(1, rng.randint(1, 3)),
        spellings=(2, rng.randint(2, 6)),
        locker_share=round(rng.uniform(0, 1), 2),
        rented_share=round(rng.uniform(0, 0.7), 2),
        per_day=(rng.randint(0, 1), rng.randint(2, 6)),
        gift_share=round(rng.uniform(0.5, 1), 2),
        backends=0,
    )
    while acts.events < budget:
        k["backends"] += 1
        wallets = [ctx.city.wallet() for _ in range(rng.randint(*k["wallets"]))]
        place = ctx.city.locker() if rng.random() < k["locker_share"] else ctx.city.flat()
        styles = rng.sample(range(9), rng.randint(*k["spellings"]))
        for day in range(ctx.days):
            for _ in range(rng.randint(*k["per_day"])):
                rented = rng.random() < k["rented_share"]
                p = ctx.person(number_where=rng.choice(["virtual", ctx.city.province()]) if rented else "local")
                t = ctx.at(day, ctx.hour_of_parent())
                net = rng.choice(["WIFI", "4G"])
                acts.signup(t, p, net=net)
                if rng.random() < k["gift_share"]:
                    acts.gift(t + ctx.lognormal(300, 1), p, net=net)
                acts.buy(
                    t + ctx.lognormal(3600, 1),
                    p,
                    99.0,
                    net=net,
                    wallet=rng.choice(wallets),
                    address=place.typed(rng.choice(styles)),
                )
    return acts.events


def visit_refund(ctx: Ctx, k: K, budget: int) -> int:
    """Refund after the session: a ring's recruits (through its 1-3 referrers) pay the trial or the package, come for
    the session (so every hold on it is released), then complain and take the money back days later."""
    rng, acts = ctx.rng, Acts(ctx, "visit_refund", "visit_refund")
    k.update(
        referrers=rng.randint(1, 3),
        package_share=round(rng.uniform(0, 0.4), 2),
        refund_after_d=(1, rng.randint(2, 6)),
        gift_share=round(rng.uniform(0.5, 1), 2),
    )
    ring = [ctx.person() for _ in range(k["referrers"])]
    for r in ring:
        acts.signup(ctx.at(0, rng.uniform(9, 20)), r)
    while acts.events < budget:
        p = ctx.person()
        t = ctx.at(rng.randrange(max(1, ctx.days - 3)), ctx.hour_of_parent())
        acts.signup(t, p, referrer=rng.choice(ring).id, net=rng.choice(["WIFI", "4G"]))
        if rng.random() < k["gift_share"]:
            acts.gift(t + ctx.lognormal(200, 1), p)
        amount = 1500.0 if rng.random() < k["package_share"] else 99.0
        acts.buy(t + ctx.lognormal(4 * 3600, 0.8), p, amount, ship=False)
        seen = t + rng.uniform(1, 2.5) * DAY
        acts.visit(seen, p, rng.choice(ctx.studio.branches)["id"])
        acts.refund(seen + rng.uniform(*k["refund_after_d"]) * DAY, p, amount)
    return acts.events


def branch_stacking(ctx: Ctx, k: K, budget: int) -> int:
    """薅羊毛 across branches: one deal-hunting mum opens an account per branch (her number, her husband's, a
    virtual one) on her phone or two, takes the newcomer gift and the 99 trial on each, and books one child at each."""
    rng, acts = ctx.rng, Acts(ctx, "branch_stacking", "branch_stacking")
    k.update(virtual_share=round(rng.uniform(0, 0.5), 2), second_phone=round(rng.uniform(0, 0.6), 2))
    while acts.events < budget:
        phones = [ctx.city.phone()] + ([ctx.city.phone()] if rng.random() < k["second_phone"] else [])
        home, flat, style_base = ctx.city.home_line(), ctx.city.flat(), rng.randrange(9)
        day = rng.randrange(ctx.days)
        for n, branch in enumerate(ctx.studio.branches):
            where = "virtual" if n and rng.random() < k["virtual_share"] else "local"
            p = Person(
                ctx.city.customer(),
                phones[n % len(phones)],
                home,
                ctx.city.mobile_line(),
                ctx.city.number(where),
                None,
                flat,
                None,
                (style_base + n) % 9,
            )
            t = ctx.at(min(ctx.days - 1, day + n), ctx.hour_of_parent())
            acts.signup(t, p)
            acts.gift(t + ctx.lognormal(120, 1), p)
            acts.buy(t + ctx.lognormal(1800, 1), p, 99.0)
            acts.visit(t + rng.uniform(2, 6) * DAY, p, branch["id"])
    return acts.events


def pay_release_refund(ctx: Ctx, k: K, budget: int) -> int:
    """刷单: hired buyers join through the farm's referrers, pay the trial within hours, refund later, never come."""
    rng, acts = ctx.rng, Acts(ctx, "pay_release_refund", "pay_release_refund")
    k.update(
        referrers=rng.randint(1, 3),
        refund_share=round(rng.uniform(0.6, 1), 2),
        refund_after_h=(rng.randint(4, 24), rng.randint(30, 160)),
        organiser_wallet=round(rng.uniform(0, 0.6), 2),
        local_share=round(rng.uniform(0, 0.8), 2),
    )
    referrers = [ctx.person() for _ in range(k["referrers"])]
    organiser_wallet = ctx.city.wallet()
    for r in referrers:
        acts.signup(ctx.at(0, rng.uniform(9, 20)), r)
    while acts.events < budget:
        where = "local" if rng.random() < k["local_share"] else ctx.city.province()
        buyer = ctx.person(where)
        t = ctx.at(rng.randrange(ctx.days), rng.uniform(9, 23))
        acts.signup(t, buyer, referrer=rng.choice(referrers).id, net=rng.choice(["WIFI", "4G"]))
        paid = t + ctx.lognormal(2 * 3600, 1.0)
        wallet = organiser_wallet if rng.random() < k["organiser_wallet"] else None
        acts.buy(paid, buyer, 99.0, wallet=wallet, ship=False)
        if rng.random() < k["refund_share"]:
            acts.refund(paid + rng.uniform(*k["refund_after_h"]) * 3600, buyer, 99.0)
    return acts.events


def paid_for_you(ctx: Ctx, k: K, budget: int) -> int:
    """代付 scalping: fresh accounts whose trials one scalper pays from his wallets; the sessions resold, some used."""
    rng, acts = ctx.rng, Acts(ctx, "paid_for_you", "paid_for_you")
    k.update(
        wallets=rng.randint(1, 2),
        phones=rng.randint(1, 4),
        used_share=round(rng.uniform(0.1, 0.6), 2),
        numbers=rng.choice(["local", "virtual", "mixed"]),
        per_night=(rng.randint(2, 5), rng.randint(6, 15)),
    )
    wallets = [ctx.city.wallet() for _ in range(k["wallets"])]
    phones = [ctx.city.phone() for _ in range(k["phones"])]
    home = ctx.city.home_line()
    while acts.events < budget:
        t = ctx.at(rng.randrange(ctx.days), rng.uniform(21, 23.5))
        for _ in range(rng.randint(*k["per_night"])):
            where = {"local": "local", "virtual": "virtual"}.get(k["numbers"], rng.choice(["local", "virtual"]))
            p = _account(ctx, rng.choice(phones), home, ctx.city.number(where))
            acts.signup(t, p, line=home, flags=_flags(ctx, 0.05, ("rooted",)))
            acts.gift(t + rng.uniform(20, 120), p, line=home)
            acts.buy(t + rng.uniform(120, 400), p, 99.0, line=home, wallet=rng.choice(wallets), ship=False)
            if rng.random() < k["used_share"]:
                acts.visit(t + rng.uniform(2, 9) * DAY, p, rng.choice(ctx.studio.branches)["id"])
            t += rng.uniform(60, 300)
    return acts.events
