"""Linked accounts: the customers who share a strong identity with the event's customer.

A farm makes each account look honest on its own; what gives it away is what the
accounts share (a wallet, a delivery address, a device), often only at checkout. So
the store keeps, per identity, who used it, and per customer, whom it is linked to.
Every key lives under its owner's hash tag, so one script per slot reads and writes it
(correct on a cluster):

- ``{I}:lk:cus``    zset per identity I (strong ones: device, phone, address... and the
  weak ip / subnet): customer -> latest event time it used I, trimmed to the link window.
- ``{C}:lk:peers``  zset: C's strong links, peer -> link time (capped at the newest 64);
  ``{C}:lk:since`` hash: peer -> when the link formed (or formed again after lapsing).
- ``{C}:lk:f``      hash: ``f`` first sight, ``l`` last sight, ``p`` first paid order (ms).
- read, never written here: ``{C}:links`` (the identities C used, newest 32, see
  ``RequestBuilder.add_links``) and ``{C}:of:grants`` (the offer ledger's grants).

**Definition** (exact, checked against a brute-force oracle in tests/engine/features/
test_links_oracle.py). When an event of customer C at time t carries a strong identity
I that another customer P last used at s > t - W (W: the longest link window of the
pack), and at most ``fanout`` customers (C included) used I in (t - W, t], then C and P
are linked at s; the link time is the latest such s, renewed by either side's events,
and the link formed at t unless it was already live. An identity used by more customers
is a **hub** (an office NAT, a school address, a parcel locker): it links nobody, and
``hubs`` counts the event's hub identities. A **weak** identity (ip, subnet) with its own
short window w links C, on this event only, to the customers who used it in (t - w, t]
(never remembered: an office NAT links a lunch-hour wave, not the people for a month).
A feature with window v reads the links with time > t - v; the **group** is those peers
plus C. Links are one hop (the customers sharing with C, not their own links).

What is trusted: nothing a caller sends lowers risk. Identities are the caller's claims,
stored as keyed hashes; a link makes a group bigger, never smaller. Three consequences,
tested in test_links_households.py: a retried event id links nothing twice (links are
sets, and a replay writes nothing); a farm that floods its drop address past the fan-out
to hide it turns it into a hub, which ``hubs`` reports, and the links made before stay;
and a caller who knows a stranger's device id or phone can link to them, which only
adds to the stranger's group. The one feature where that costs the stranger something
is ``rewards`` ("one newcomer reward per household"): a farm that took a reward and then
claims a stranger's phone makes the stranger look like its household. Packs use it with
a small group size and no hub (as the shipped rule does), and a denied stranger is a
review case, not a block.

Cost: round 1 is the request's own script calls (4 Redis calls per identity on the
event, 4 to 7 in the customer's slot); round 2, one more round trip only when C has
peers or new links, writes each new link on both sides (6-7 calls each) and reads each
peer's facts (3 + one per `rewards` window). docs/features.md has the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.features.builder import LINK_PREFIX, Batch, RequestBuilder
from engine.features.plan import LinkGraph
from engine.features.spec import UNIT_SECONDS, Entity, LinkFeature, LinkMetric

#: Identities that link customers for the whole window, and those that link only on the event.
STRONG: tuple[Entity, ...] = tuple(e for e in LINK_PREFIX if e is not Entity.IP)
WEAK: tuple[Entity, ...] = (Entity.IP, Entity.SUBNET)
#: A customer's peers are capped at the newest this many (its ``lk:peers`` set too).
GROUP_CAP = 64
Value = int | float | bool | None


@dataclass(slots=True)
class Facts:
    """One member's first / last sight, first paid order, grants per window, identities used."""

    first: int | None
    last: int | None
    paid: int | None
    grants: tuple[int, ...]
    identities: dict[str, int]  # link member (``d:<device>``...) -> last use (ms)


@dataclass(slots=True)
class Observed:
    """What round 1 found: live strong peers, this event's weak peers, new links, hubs."""

    customer: str
    peers: dict[str, tuple[int, int]] = field(default_factory=dict)  # strong: peer -> (link time, since)
    weak: dict[str, int] = field(default_factory=dict)  # peer -> its use of the weak identity (ms)
    new_links: dict[str, int] = field(default_factory=dict)  # peer -> link time
    hubs: int = 0
    own: Facts | None = None

    def members(self) -> list[tuple[str, int]]:
        """Every peer with its latest link time, newest first, capped at GROUP_CAP."""
        times = {m: s for m, (s, _) in self.peers.items()}
        for m, s in self.weak.items():
            times[m] = max(times.get(m, 0), s)
        return sorted(times.items(), key=lambda kv: (-kv[1], kv[0]))[:GROUP_CAP]


def identities(graph: LinkGraph) -> list[tuple[Entity, int, bool]]:
    """(entity, window ms, strong) of every identity the graph links through."""
    return [(e, graph.window_ms, True) for e in graph.via] + [(e, w, False) for e, w in graph.weak]


# -- round 1 ----------------------------------------------------------------------------


def emit(builder: RequestBuilder, graph: LinkGraph) -> None:
    """Record the event into its identities' sets and the customer's facts; ask for users and peers."""
    tag = builder.customer_tag()
    batch = builder.batch(tag)
    customer = _customer(builder)
    if builder.record:
        paid = 1 if builder.event.type == "order_paid" else 0
        batch.ops.extend(("LF", batch.key(f"{tag}:lk:f"), paid, builder.history_ttl))
    if builder.read_values:
        after = f"({builder.t - graph.window_ms}"
        batch.ops.extend(("LG", batch.key(f"{tag}:lk:peers"), batch.key(f"{tag}:lk:since"), after))
        batch.extras.append("lk:peers")
        facts_op(builder, batch, tag, graph, "lk:self", rewards=False)  # rewards count the others only
    for entity, window_ms, _ in identities(graph):
        located = builder.locate(entity)
        if located is None:
            continue
        itag = located[1]
        ibatch = builder.batch(itag)
        key = ibatch.key(f"{itag}:lk:cus")
        ibatch.ops.extend((
            "LI", key, 1 if builder.record else 0, customer, builder.window_ttl(window_ms),
            builder.trim(window_ms), f"({builder.t - window_ms}", graph.fanout + 1,
        ))  # fmt: skip
        ibatch.extras.append(f"lk:{entity.value}")


def facts_op(
    builder: RequestBuilder, batch: Batch, tag: str, graph: LinkGraph, name: str, *, rewards: bool = True
) -> None:
    """The LR op reading one member's facts into the extra output ``name``."""
    windows = graph.reward_windows if rewards else ()
    lows = [f"({(builder.t - w) / 1000!r}" for w in windows]  # grants are scored in seconds
    batch.ops.extend((
        "LR", batch.key(f"{tag}:lk:f"), batch.key(f"{tag}:of:grants"), batch.key(f"{tag}:links"),
        f"({builder.t - graph.window_ms}", len(lows), *lows,
    ))  # fmt: skip
    batch.extras.append(name)


def observe(builder: RequestBuilder, graph: LinkGraph, batches: Sequence[Batch], results: Sequence[Any]) -> Observed:
    """Round 1's answers: peers, identity users (or hubs), the customer's own facts."""
    found = Observed(customer=_customer(builder))
    flat = extra_list(batches, results, "lk:peers") or []
    for k in range(0, len(flat) - 2, 3):
        found.peers[_text(flat[k])] = (_ms(flat[k + 1]), _ms(flat[k + 2]))
    for entity, _, strong in identities(graph):
        users = extra_list(batches, results, f"lk:{entity.value}")
        if users is None:
            continue
        pairs = [(_text(users[k]), _ms(users[k + 1])) for k in range(0, len(users) - 1, 2)]
        if len(pairs) > graph.fanout:
            found.hubs += 1
            continue
        for member, at in pairs:
            if member == found.customer:
                continue
            target = found.new_links if strong else found.weak
            target[member] = max(target.get(member, 0), at)
    for member, at in found.new_links.items():
        old = found.peers.get(member)
        found.peers[member] = (at, builder.t) if old is None else (max(old[0], at), old[1])
    own = extra_list(batches, results, "lk:self")
    found.own = None if own is None else parse_facts(own, 0)
    return found


# -- round 2 ----------------------------------------------------------------------------


def emit_round_two(builder: RequestBuilder, graph: LinkGraph, found: Observed) -> list[str]:
    """Write the new links on both sides; read every member's facts. Returns the members read, in order."""
    tag = builder.customer_tag()
    if builder.record:
        for member, at in sorted(found.new_links.items()):
            _link(builder, graph, tag, found.customer, member, at)
            _link(builder, graph, builder.tag_of(Entity.CUSTOMER, member), member, found.customer, at)
    if not builder.read_values:
        return []
    members = [m for m, _ in found.members()]
    for member in members:
        mtag = builder.tag_of(Entity.CUSTOMER, member)
        facts_op(builder, builder.batch(mtag), mtag, graph, f"lk:m:{member}")
    return members


def _link(builder: RequestBuilder, graph: LinkGraph, tag: str, owner: str, peer: str, at: int) -> None:
    batch = builder.batch(tag)
    batch.ops.extend((
        "LP", batch.key(f"{tag}:lk:peers"), batch.key(f"{tag}:lk:since"), peer, str(at), str(builder.t),
        builder.history_ttl, builder.trim(graph.window_ms), GROUP_CAP,
    ))  # fmt: skip


def read_round_two(
    graph: LinkGraph, members: list[str], batches: Sequence[Batch], results: Sequence[Any]
) -> dict[str, Facts]:
    """Each member's facts from round 2's answers."""
    facts: dict[str, Facts] = {}
    for member in members:
        flat = extra_list(batches, results, f"lk:m:{member}")
        if flat is not None:
            facts[member] = parse_facts(flat, len(graph.reward_windows))
    return facts


# -- values -------------------------------------------------------------------------------


def values(builder: RequestBuilder, graph: LinkGraph, found: Observed, facts: dict[str, Facts]) -> dict[int, Value]:
    """Every link feature's value (value index -> value) from what the two rounds read."""
    members = found.members()
    own = found.own or Facts(None, None, None, (0,) * len(graph.reward_windows), {})
    out: dict[int, Value] = {}
    for index, spec in graph.specs:
        low = builder.t - spec.window_seconds * 1000
        group = [m for m, at in members if at > low]
        everyone = [own, *(facts[m] for m in group if m in facts)]
        out[index] = _value(builder.t, graph, spec, found, group, everyone, facts)
    return out


def _value(
    t: int, graph: LinkGraph, spec: LinkFeature, found: Observed, group: list[str], everyone: list[Facts],
    facts: dict[str, Facts],
) -> Value:  # fmt: skip
    """One link feature over its window's group (``everyone``: the customer's facts, then the group's)."""
    within = (spec.within_seconds or 0) * 1000
    low = t - spec.window_seconds * 1000
    match spec.metric:
        case LinkMetric.ACCOUNTS:
            return len(group)
        case LinkMetric.HUBS:
            return found.hubs
        case LinkMetric.NEW_SHARE:
            return _share([f.first is None or t - f.first < within for f in everyone])
        case LinkMetric.PAID_SHARE:
            return _share([f.paid is not None and f.paid <= t for f in everyone])
        case LinkMetric.RETURNING_SHARE:
            return _share([f.first is not None and (f.last or 0) - f.first >= within for f in everyone])
        case LinkMetric.REWARDS:
            slot = graph.reward_windows.index(spec.window_seconds * 1000)
            return sum(facts[m].grants[slot] for m in group if m in facts)
        case LinkMetric.IDENTITIES:
            prefixes = {LINK_PREFIX[e] for e in graph.via if e in LINK_PREFIX}
            return len({i for f in everyone for i, at in f.identities.items() if at > low and i[:1] in prefixes})
        case LinkMetric.LINK_AGE:
            since = [found.peers[m][1] for m in group if m in found.peers and found.peers[m][0] > low]
            return None if not since else max(0, t - min(since)) / (UNIT_SECONDS[spec.unit] * 1000)
    return None  # pragma: no cover - the match is exhaustive


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags)


# -- plumbing -----------------------------------------------------------------------------


def parse_facts(flat: Sequence[Any], windows: int) -> Facts:
    """The flat LR answer: f, l, p, one grant count per reward window, then links with scores."""
    first, last, paid = (None if v is None else _ms(v) for v in flat[:3])
    grants = tuple(int(v) for v in flat[3 : 3 + windows])
    rest = flat[3 + windows :]
    used = {_text(rest[k]): _ms(rest[k + 1]) for k in range(0, len(rest) - 1, 2)}
    return Facts(first, last, paid, grants, used)


def extra_list(batches: Sequence[Batch], results: Sequence[Any], name: str) -> list[Any] | None:
    """A list-valued extra output of whichever batch asked for it (None when none did)."""
    for batch, result in zip(batches, results, strict=True):
        if name in batch.extras:
            value = result[2 + batch.extras.index(name)]
            return list(value) if isinstance(value, list | tuple) else []
    return None


def _customer(builder: RequestBuilder) -> str:
    located = builder.locate(Entity.CUSTOMER)
    assert located is not None  # every event has a customer
    return located[0]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ms(value: Any) -> int:
    return int(float(_text(value)))


# -- the linked group of a customer, for a reviewer ------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkedMember:
    """One customer linked to the one asked about: since when, how recently, through what."""

    customer: str  # the customer's id as stored (its own id, or ``~<digest>`` when unsafe in a key)
    linked_at_ms: int  # the link's time (the latest shared use)
    since_ms: int  # when the link formed
    shared: tuple[tuple[Entity, str], ...]  # identities both used among their newest 32 (personal ones hashed)


async def linked_group(client: Any, tag_of: Any, customer_tag: str, *, low_ms: int) -> list[LinkedMember]:
    """The strong links of the customer under ``customer_tag`` with a time after ``low_ms``, newest first.

    Two round trips (the peers and the customer's identities, then each peer's identities);
    ``tag_of(member)`` gives a peer's customer tag.
    """
    async with client.pipeline(transaction=False) as pipe:
        pipe.zrevrangebyscore(f"{customer_tag}:lk:peers", "+inf", f"({low_ms}", withscores=True)
        pipe.hgetall(f"{customer_tag}:lk:since")
        pipe.zrange(f"{customer_tag}:links", 0, -1)
        peers, since, own = await pipe.execute()
    names = [_text(m) for m, _ in peers]
    if not names:
        return []
    async with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.zrange(f"{tag_of(name)}:links", 0, -1)
        theirs = await pipe.execute()
    formed = {_text(k): _ms(v) for k, v in since.items()}
    mine = {_text(m) for m in own}
    entity_of = {prefix: entity for entity, prefix in LINK_PREFIX.items()}
    found: list[LinkedMember] = []
    for (member, at), links in zip(peers, theirs, strict=True):
        name = _text(member)
        shared = sorted(mine & {_text(m) for m in links})
        pairs = tuple((entity_of[s[0]], s[2:]) for s in shared if s[:1] in entity_of and s[1:2] == ":")
        found.append(LinkedMember(name, int(at), formed.get(name, int(at)), pairs))
    return found
