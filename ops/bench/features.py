"""Benchmark the feature store: record + read of ~20 features per event on a real Redis.

    python ops/bench/features.py [--events 50000] [--concurrency 8] [--url redis://...] [--links]

Without --url it starts an embedded redis-server (unix socket, temp dir). It reports
events/s and per-event latency (median, p99) of ``record_and_read`` (outcomes through
``record_outcome``), against the floor measured in the same run: one bare pipelined
round trip of as many Redis commands as the store's scripts executed per event
(counted from INFO commandstats), at the same concurrency. It also reports Redis
memory (INFO used_memory) per 1M events, extrapolated from the run. The last line is
one JSON object with the figures.

``--refunds`` runs it twice on a stream where one paid order in 20 is refunded later,
without and with the two refund features (engine/features/referral_refunds.py), and
reports what they add per event in the same way.
``--detection`` does the same for the detection windows issue 14 added after the links
(``detection_specs``: the slow drip's 30-day sign-ups per IP and networks per device, the accounts per
phone-number block, the provinces of an account's requests in ten minutes and the seconds since a group's
last red packet), reporting what they add; ``--detection-feature NAME`` keeps only the named windows.
``--hired-buyers`` does the same for the features that see 刷单 before the refunds (``hired_buyer_specs``:
the referrer's own paid orders, its quick payers, the buyer's referral through an unpaid referrer;
engine/features/referrer_paid.py).
``--chains`` likewise for who paid up the referral chain (``chain_specs``: ``referrer.chain_paid``,
``customer.chain_depth``, ``customer.chain_paid``; engine/features/referral_graph.py).
``--outcome-devices`` likewise for what a device's accounts did (``outcome_device_specs``: accounts that came
to the studio, paid, their wallets, refunds; each outcome counted on the payer's newest device, one ZREVRANGE
first: engine/features/outcome_device.py).

``--links`` runs the bench twice, without and with the shipped pack's eight linked-account
features (engine/features/links.py), and reports what they add per event: worker CPU
(this process) and Redis CPU (INFO used_cpu_sys + used_cpu_user).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from engine.datastore.connection import RedisSettings, client_from_url
from engine.datastore.embedded import EmbeddedRedis
from engine.events import OUTCOME_TYPES, Event
from engine.features.links import STRONG
from engine.features.spec import (
    Aggregate,
    Entity,
    FeatureSpec,
    GroupFeature,
    GroupMetric,
    LinkFeature,
    LinkMetric,
    ListFeature,
    ListKind,
    ReferralFeature,
    ReferralMetric,
    TimeUnit,
    WindowedFeature,
)
from engine.features.store import FeatureStore

H, D = 3600, 86400
CLAIMS = ("coupon_claim", "red_packet_claim", "group_buy_join")
SIGNUPS = ("signup", "referral")


def _w(
    name: str, agg: Aggregate, by: Entity, window: int | None, on: tuple[str, ...] = (), **kw: object
) -> WindowedFeature:
    return WindowedFeature(name, agg, by, window, frozenset(on), **kw)  # type: ignore[arg-type]


def bench_specs() -> tuple[FeatureSpec, ...]:
    """22 of the shipped pack's features (rules/features.yaml, same names and definitions)."""
    return (
        _w("customer.orders_365d", Aggregate.COUNT, Entity.CUSTOMER, 365 * D, ("order_paid",)),
        _w("customer.spend_365d", Aggregate.SUM, Entity.CUSTOMER, 365 * D, ("order_paid",), field="amount"),
        _w("customer.age_days", Aggregate.FIRST_SEEN, Entity.CUSTOMER, None, unit=TimeUnit.DAYS),
        _w(
            "customer.days_since_order", Aggregate.LAST_SEEN, Entity.CUSTOMER, None, ("order_paid",), unit=TimeUnit.DAYS
        ),
        _w("customer.claims_24h", Aggregate.COUNT, Entity.CUSTOMER, D, CLAIMS),
        _w("device.accounts_24h", Aggregate.DISTINCT, Entity.DEVICE, D, field="customer"),
        _w("device.red_packets_1h", Aggregate.COUNT, Entity.DEVICE, H, ("red_packet_claim",)),
        _w("device.claims_1h", Aggregate.COUNT, Entity.DEVICE, H, CLAIMS),
        _w("ip.signups_1h", Aggregate.COUNT, Entity.IP, H, SIGNUPS),
        _w("ip.accounts_1h", Aggregate.DISTINCT, Entity.IP, H, field="customer"),
        _w("subnet.signups_1h", Aggregate.COUNT, Entity.SUBNET, H, SIGNUPS),
        _w("customer.devices_24h", Aggregate.DISTINCT, Entity.CUSTOMER, D, field="device"),
        _w("phone_segment.signups_10m", Aggregate.COUNT, Entity.PHONE_SEGMENT, 600, SIGNUPS),
        ReferralFeature("referrer.invitees_7d", ReferralMetric.INVITEES, 7 * D),
        ReferralFeature("referrer.invitee_devices_24h", ReferralMetric.INVITEE_DEVICES, D),
        ReferralFeature("referrer.invitees_on_device_30d", ReferralMetric.INVITEES_ON_REFERRER_DEVICE, 30 * D),
        ReferralFeature(
            "referrer.settled_paid_share_30d", ReferralMetric.PAID_SHARE, 30 * D, 14 * D, older_than_seconds=3 * D
        ),
        ReferralFeature("referrer.in_ring", ReferralMetric.RING, hops=4),
        GroupFeature("group.members", GroupMetric.MEMBERS),
        GroupFeature("group.same_device_members", GroupMetric.SHARED_DEVICE),
        ListFeature("device.blocked", Entity.DEVICE, ListKind.BLOCK),
        ListFeature("phone.blocked", Entity.PHONE, ListKind.BLOCK),
    )


def link_specs() -> tuple[FeatureSpec, ...]:
    """The shipped pack's link features (rules/features.yaml): one graph, ip weak for 1h, fan-out 8."""

    def link(name: str, metric: LinkMetric, **kw: object) -> LinkFeature:
        return LinkFeature(name, metric, 30 * D, STRONG, ((Entity.IP, H),), 8, **kw)  # type: ignore[arg-type]

    return (
        link("customer.linked_accounts_30d", LinkMetric.ACCOUNTS),
        link("customer.linked_new_share_30d", LinkMetric.NEW_SHARE, within_seconds=7 * D),
        link("customer.linked_paid_share_30d", LinkMetric.PAID_SHARE),
        link("customer.linked_returning_30d", LinkMetric.RETURNING_SHARE, within_seconds=7 * D),
        link("customer.linked_identities_30d", LinkMetric.IDENTITIES),
        link("customer.link_hubs", LinkMetric.HUBS),
        link("customer.household_rewards_30d", LinkMetric.REWARDS),
        link("customer.link_age_days", LinkMetric.LINK_AGE, unit=TimeUnit.DAYS),
    )


def refund_specs() -> tuple[FeatureSpec, ...]:
    """The shipped pack's refund features (rules/features.yaml): 30-day window, refunded within 14 days."""
    return (
        ReferralFeature("referrer.refunded_invitees_30d", ReferralMetric.REFUNDED_INVITEES, 30 * D, 14 * D),
        ReferralFeature("referrer.refund_share_30d", ReferralMetric.REFUND_SHARE, 30 * D, 14 * D),
    )


def bench_events(count: int, seed: int = 7, refunds: bool = False) -> list[Event]:
    """Traffic of a merchant with 50k customers, an hour's worth per 100k events (``refunds``: 1 paid order in 20
    is refunded, its customer's next order_paid becoming the refund)."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=2)
    kinds = ["signup", "referral", "coupon_claim", "group_buy_join", "red_packet_claim", "order", "order_paid"]
    events = []
    for n in range(count):
        kind = rng.choices(kinds, weights=[25, 20, 15, 10, 10, 10, 10])[0]
        customer = f"cust{rng.randrange(50_000)}"
        events.append(
            Event(
                event_id=f"bench-{n}",
                type=kind,
                customer=customer,
                timestamp=start + timedelta(milliseconds=36 * n),
                device=f"dev{rng.randrange(20_000)}",
                ip=f"10.{rng.randrange(40)}.{rng.randrange(50)}.{rng.randrange(1, 250)}",
                phone=f"1{rng.choice(['38', '39', '70', '65'])}{rng.randrange(10**8):08d}",
                referrer=f"cust{rng.randrange(50_000)}" if kind == "referral" else None,
                group=f"grp{rng.randrange(5_000)}" if kind == "group_buy_join" else None,
                amount=round(rng.uniform(9, 999), 2) if kind in ("order", "order_paid") else None,
            )
        )
    return _with_refunds(events, rng) if refunds else events


def _with_refunds(events: list[Event], rng: random.Random) -> list[Event]:
    """Turn a later order_paid of one payer in 20 into a refund (the payer was seen paying first)."""
    paid: set[str] = set()
    out: list[Event] = []
    for event in events:
        if event.type == "order_paid" and event.customer in paid and rng.random() < 0.05:
            event = event.model_copy(update={"type": "refund"})
        elif event.type == "order_paid":
            paid.add(event.customer)
        out.append(event)
    return out


async def run_concurrently(
    items: int, concurrency: int, work: Callable[[int], Awaitable[object]]
) -> tuple[float, list[float]]:
    """Run ``work(i)`` for every i with ``concurrency`` workers; elapsed s and latencies (ms)."""
    latencies: list[float] = []
    cursor = iter(range(items))

    async def worker() -> None:
        for i in cursor:
            began = time.perf_counter()
            await work(i)
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began, latencies


async def commands_executed(client: Redis) -> int:
    """Commands run by the server so far, scripts' inner calls included, EVAL* excluded."""
    stats = await client.info("commandstats")
    skip = {"cmdstat_evalsha", "cmdstat_eval", "cmdstat_info", "cmdstat_config"}
    return sum(int(v["calls"]) for k, v in stats.items() if k not in skip)


async def scripts_run(client: Redis) -> int:
    """Round trips so far: scripts (EVALSHA and EVAL, one per round trip on one server) and the ZREVRANGE an
    outcome counted by device reads its payer's devices with (engine/features/outcome_device.py)."""
    stats = await client.info("commandstats")
    keys = ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_zrevrange")
    return sum(int(stats.get(k, {}).get("calls", 0)) for k in keys)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def redis_cpu_s(client: Redis) -> float:
    """CPU seconds the Redis server has used so far."""
    cpu = await client.info("cpu")
    return float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])


def chain_specs() -> tuple[FeatureSpec, ...]:
    """Who paid up the referral chain (rules/features.yaml, same definitions): a paid order marks the payer."""
    return (
        ReferralFeature("referrer.chain_paid", ReferralMetric.CHAIN_PAID),
        ReferralFeature("customer.chain_depth", ReferralMetric.DEPTH, by=Entity.CUSTOMER),
        ReferralFeature("customer.chain_paid", ReferralMetric.CHAIN_PAID, by=Entity.CUSTOMER),
    )


REFUNDS = ("refund", "chargeback")


def outcome_device_specs() -> tuple[FeatureSpec, ...]:
    """What a device's accounts did (rules/features.yaml, same definitions): outcomes on the payer's newest device."""
    week = 7 * D
    return (
        _w("device.visited_accounts_7d", Aggregate.DISTINCT, Entity.DEVICE, week, ("store_visit",), field="customer"),
        _w("device.paid_accounts_7d", Aggregate.DISTINCT, Entity.DEVICE, week, ("order_paid",), field="customer"),
        _w("device.paid_wallets_7d", Aggregate.DISTINCT, Entity.DEVICE, week, ("order_paid",), field="payment"),
        _w("device.refunded_accounts_7d", Aggregate.DISTINCT, Entity.DEVICE, week, REFUNDS, field="customer"),
    )


def detection_specs(only: list[str] | None = None) -> tuple[FeatureSpec, ...]:
    """Windows the pack added for the missed families (rules/features.yaml, same definitions); ``only``: by name."""
    specs = (
        _w("ip.signups_30d", Aggregate.COUNT, Entity.IP, 30 * D, SIGNUPS),
        _w("device.subnets_30d", Aggregate.DISTINCT, Entity.DEVICE, 30 * D, field="subnet"),
        # a code platform's SIM batch: accounts per 7-digit number block
        _w("phone_block.accounts_30d", Aggregate.DISTINCT, Entity.PHONE_BLOCK, 30 * D, field="customer"),
        # honest look-alikes (session 7): relayed group joins per customer (address.payments_30d,
        # the other, is not here: this stream's events carry no address)
        _w("customer.group_joins_30d", Aggregate.COUNT, Entity.CUSTOMER, 30 * D, ("member_joined",)),
        # 秒拨: the provinces of one account's requests (the IP's offline region, engine/geo.py)
        _w("customer.ip_regions_10m", Aggregate.DISTINCT, Entity.CUSTOMER, 600, field="ip_region"),
        # 协议抢: seconds since the group's last red_packet_sent, read on claims
        _w("group.packet_age_s", Aggregate.LAST_SEEN, Entity.GROUP, None, ("red_packet_sent",), unit=TimeUnit.SECONDS),
    )
    return tuple(spec for spec in specs if not only or spec.name in only)


def hired_buyer_specs() -> tuple[FeatureSpec, ...]:
    """The shipped pack's 刷单-before-the-refunds block (rules/features.yaml, same definitions)."""
    return (
        ReferralFeature("referrer.days_since_paid", ReferralMetric.DAYS_SINCE_PAID),
        ReferralFeature("referrer.quick_paid_share_7d", ReferralMetric.PAID_SHARE, 7 * D, 12 * H),
        ReferralFeature("customer.hours_since_unpaid_referral", ReferralMetric.UNPAID_REFERRAL_HOURS),
    )


async def bench(
    url: str, events: int, concurrency: int, links: bool = False, refunds: bool | None = None,
    extra: tuple[FeatureSpec, ...] = (), bare_outcomes: bool = False,
) -> dict[str, float | int]:  # fmt: skip
    """One run (``refunds``: None = the plain stream; False / True = the refund stream, without / with its features;
    ``extra``: more specs on top; ``bare_outcomes``: outcomes without a device, as a payment callback sends them)."""
    client = client_from_url(url, RedisSettings(socket_timeout=5.0))
    assert isinstance(client, Redis)
    try:
        await client.flushdb()
        store = FeatureStore(client, secret=b"bench-secret-0123456789")
        specs = bench_specs() + (link_specs() if links else ()) + (refund_specs() if refunds else ()) + extra
        stream = bench_events(events, refunds=refunds is not None)
        if bare_outcomes:  # as the payment callback sends them: no device (engine/features/outcome_device.py)
            stream = [e.model_copy(update={"device": None}) if e.type in OUTCOME_TYPES else e for e in stream]
        memory_before = int((await client.info("memory"))["used_memory"])
        await client.config_resetstat()
        cpu_before, redis_before = time.process_time(), await redis_cpu_s(client)

        async def record(i: int) -> object:
            event = stream[i]
            if event.type in OUTCOME_TYPES:
                return await store.record_outcome(tenant="bench", event=event, specs=specs)
            return await store.record_and_read(tenant="bench", event=event, specs=specs)

        elapsed, latencies = await run_concurrently(events, concurrency, record)
        worker_us = (time.process_time() - cpu_before) / events * 1e6
        redis_us = (await redis_cpu_s(client) - redis_before) / events * 1e6
        per_event = round(await commands_executed(client) / events)
        round_trips = await scripts_run(client) / events
        memory_after = int((await client.info("memory"))["used_memory"])

        floor_events = min(events, 10_000)

        async def floor(i: int) -> object:
            async with client.pipeline(transaction=False) as pipe:
                for _ in range(per_event):
                    pipe.zcount("yt:bench:floor", 0, i)
                return await pipe.execute()

        floor_elapsed, floor_latencies = await run_concurrently(floor_events, concurrency, floor)
    finally:
        await client.aclose()
    rate, floor_rate = events / elapsed, floor_events / floor_elapsed
    return {
        "events": events,
        "features": len(specs),
        "concurrency": concurrency,
        "events_per_s": round(rate),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(_p(latencies, 0.99), 3),
        "redis_commands_per_event": per_event,
        "round_trips_per_event": round(round_trips, 3),
        "worker_cpu_us_per_event": round(worker_us, 1),
        "redis_cpu_us_per_event": round(redis_us, 1),
        "floor_events_per_s": round(floor_rate),
        "floor_p50_ms": round(statistics.median(floor_latencies), 3),
        "floor_p99_ms": round(_p(floor_latencies, 0.99), 3),
        "ratio_vs_floor": round(rate / floor_rate, 3),
        "redis_mb_per_1m_events": round((memory_after - memory_before) / events * 1e6 / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--url", default=None, help="Redis URL (default: an embedded server)")
    parser.add_argument("--links", action="store_true", help="also run with the link features and compare")
    parser.add_argument("--refunds", action="store_true", help="compare with and without the refund features")
    parser.add_argument("--detection", action="store_true", help="also run with issue 14's detection windows")
    parser.add_argument("--hired-buyers", action="store_true", help="also run with the 刷单 features (issue 14, P)")
    parser.add_argument("--detection-feature", action="append", help="with --detection: only this window (repeatable)")
    parser.add_argument("--chains", action="store_true", help="also run with who paid up the referral chain")
    parser.add_argument(
        "--outcome-devices", action="store_true", help="also run with the outcomes counted by device (issue 14, H)"
    )
    args = parser.parse_args()
    if args.url:
        figures = _run(args.url, args)
    else:
        with tempfile.TemporaryDirectory(prefix="yutang-bench-") as data, EmbeddedRedis(data) as server:
            figures = _run(server.url, args)
    print(
        f"record+read of {figures['features']} features: {figures['events_per_s']} events/s, "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms ({figures['concurrency']} concurrent)"
    )
    print(
        f"floor, one pipelined round trip of {figures['redis_commands_per_event']} commands: "
        f"{figures['floor_events_per_s']} events/s, p50 {figures['floor_p50_ms']} ms "
        f"-> ratio {figures['ratio_vs_floor']}"
    )
    print(f"redis memory: {figures['redis_mb_per_1m_events']} MB per 1M events")
    if "links" in figures:
        print(
            f"with the {figures['link_features']} link features: +{figures['link_worker_cpu_us']} us worker CPU, "
            f"+{figures['link_redis_cpu_us']} us Redis CPU, +{figures['link_redis_commands']} Redis calls per event"
        )
    if "refunds" in figures:
        print(
            f"with the 2 refund features (1 paid order in 20 refunded): +{figures['refund_worker_cpu_us']} us worker "
            f"CPU, +{figures['refund_redis_cpu_us']} us Redis CPU, +{figures['refund_redis_commands']} Redis calls, "
            f"+{figures['refund_round_trips']} round trips per event"
        )
    for name, label in (
        ("detection", "detection window(s)"),
        ("hired_buyers", "刷单 feature(s)"),
        ("chains", "chain feature(s)"),
        ("outcome_devices", "outcome-by-device feature(s)"),
    ):
        if name in figures:
            added = (figures[f"{name}_{k}"] for k in ("worker_cpu_us", "redis_cpu_us", "redis_commands"))
            print(
                "with {} {}: +{} us worker CPU, +{} us Redis CPU, +{} Redis calls, +{} round trips per event".format(
                    figures[f"{name}_features"], label, *added, figures[f"{name}_round_trips"]
                )
            )
    print(json.dumps(figures))


def _run(url: str, args: argparse.Namespace) -> dict[str, float | int]:
    if args.refunds:
        return _compare_refunds(url, args)
    figures = asyncio.run(bench(url, args.events, args.concurrency))
    if args.links:
        linked = asyncio.run(bench(url, args.events, args.concurrency, links=True))
        figures["links"] = 1
        figures["link_features"] = len(link_specs())
        figures["link_worker_cpu_us"] = round(linked["worker_cpu_us_per_event"] - figures["worker_cpu_us_per_event"], 1)
        figures["link_redis_cpu_us"] = round(linked["redis_cpu_us_per_event"] - figures["redis_cpu_us_per_event"], 1)
        figures["link_redis_commands"] = linked["redis_commands_per_event"] - figures["redis_commands_per_event"]
        figures["link_events_per_s"] = linked["events_per_s"]
        figures["link_p50_ms"] = linked["p50_ms"]
    for name, wanted, specs in (
        ("detection", args.detection, detection_specs(args.detection_feature)),
        ("hired_buyers", args.hired_buyers, hired_buyer_specs()),
        ("chains", args.chains, chain_specs()),
        ("outcome_devices", args.outcome_devices, outcome_device_specs()),
    ):
        if not wanted:
            continue
        bare = name == "outcome_devices"  # its outcomes name no device, in both runs compared
        base = asyncio.run(bench(url, args.events, args.concurrency, bare_outcomes=True)) if bare else figures
        more = asyncio.run(bench(url, args.events, args.concurrency, extra=specs, bare_outcomes=bare))
        figures[name] = 1
        figures[f"{name}_features"] = len(specs)
        for key in ("worker_cpu_us", "redis_cpu_us"):
            figures[f"{name}_{key}"] = round(more[f"{key}_per_event"] - base[f"{key}_per_event"], 1)
        figures[f"{name}_redis_commands"] = more["redis_commands_per_event"] - base["redis_commands_per_event"]
        figures[f"{name}_round_trips"] = round(more["round_trips_per_event"] - base["round_trips_per_event"], 3)
    return figures


def _compare_refunds(url: str, args: argparse.Namespace) -> dict[str, float | int]:
    """The refund stream without, then with, the refund features: what they add per event."""
    figures = asyncio.run(bench(url, args.events, args.concurrency, refunds=False))
    with_refunds = asyncio.run(bench(url, args.events, args.concurrency, refunds=True))
    figures["refunds"] = 1
    for name, key in (("worker_cpu_us", "worker_cpu_us_per_event"), ("redis_cpu_us", "redis_cpu_us_per_event")):
        figures[f"refund_{name}"] = round(with_refunds[key] - figures[key], 1)
    figures["refund_redis_commands"] = with_refunds["redis_commands_per_event"] - figures["redis_commands_per_event"]
    figures["refund_round_trips"] = round(with_refunds["round_trips_per_event"] - figures["round_trips_per_event"], 3)
    figures["refund_events_per_s"] = with_refunds["events_per_s"]
    return figures


if __name__ == "__main__":
    main()
