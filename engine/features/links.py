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
- ``{C}:lk:f``      hash: ``f`` first sight, ``l`` last sight, ``p`` first paid order (ms), ``s``
  once C's first link summary was written (below); ``p`` cleared by a refund that takes back all C
  paid (op PV, referrer_paid.py).
- ``{C}:lk:s``      string: C's **link summary**, a copy of its ``lk:f`` facts, of its strong
  ``links`` identities with their times (those of the graph's prefixes, which it names) and of its
  grants' times (msgpack ``[f, l, p, prefixes, n, member, time..., grant time...]``, 0 = none), so
  op LR / LM reads every member of a group with one MGET instead of an HMGET, a ZRANGEBYSCORE and a
  ZCOUNT each. Never the source: the script call that changes C's ``lk:f`` or ``links`` rewrites it
  at its end when C has peers (op LG found some, or op LR wrote new links), else deletes it (an
  outcome, a lone customer, a pack without link features; not when C's ``lk:f`` has no ``s``, the
  mark of a first summary: none to delete); it expires 2 days before the ``lk:f`` it copies can
  (a 400-day history: 398 days after its last rewrite); the offer ledger's RECORD deletes it
  with each grant (the rewrite then reads the grants once). A member without one, or with one for
  other prefixes, is read from its own keys, so the answers are those of the keys, exactly
  (tests/engine/features/test_links_summary.py); one more key per customer with peers.
- read, never written here: ``{C}:links`` (the identities C used, newest 32, see
  ``RequestBuilder.add_links``) and ``{C}:of:grants`` (the offer ledger's grants).

**Definition** (exact within the bounds below, checked against a brute-force oracle in
tests/engine/features/test_links_oracle.py). When an event of customer C at time t
carries a strong identity I that another customer P last used at s > t - W (W: the
longest link window of the pack), and at most ``fanout`` customers (C included) used I in (t - W, t], then C and P
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

Bounds: the group is the newest ``GROUP_CAP`` (64) peers (``accounts``, ``link_age``);
the shares, ``rewards`` and ``identities`` read the customer and the **newest
``FACTS_CAP`` (16) members of the window's group** by link time (the ones that still
share with C; a household is 2-4, and a farm's newest 16 show what it is); ``identities``
counts the distinct strong identities among each of those members' newest 32
(``links_cap``) used in the window, **at most ``IDENTITY_CAP`` (64)**: past that a count
says nothing a rule needs, and the script stops reading identities there.

Cost, bounded by those caps and not by what the group has stored: the members' facts
never leave Redis. Op LM (scripts/plan.lua) reads each of those (at most 16) members'
first / last sight and first paid order (one HMGET), its grants per ``rewards`` window
(one ZCOUNT each) and, only when the plan has an ``identities`` feature, its identities
in the window (one ZRANGEBYSCORE, until the cap), and answers two numbers per feature
and slot (members counted, members flagged / grants / distinct identities; on a cluster
the identities themselves, at most 64 per slot, for Python to unite). Round 1 is the
request's own script calls (at most 4 Redis calls per identity on the event, 4 to 8 in
the customer's slot). **On one server** (every key in that one call) op LR ends round 1
with what round 2 would do: it finds the new links from op LG's peers and op LI's users
(as ``observe`` does), writes them on both sides and aggregates the customer and its
newest 16 members (op LM's code), building the peers' keys from the customer tag (the
stored ids are ``safe_id``'d: a caller's id cannot name another key): **no extra round
trip**. On a cluster, op LM over the customer alone gives its own part in round 1, and
round 2, one more round trip only when C has peers or new links, writes each new link on
both sides (6-7 calls each) and runs op LM once per slot over the members in it: at most
16 x 3 reads. The link keys' TTLs are renewed only once they have run down by a day (the
history keys) or by half the slack past the window (``lk:cus``): a PTTL read instead of a
PEXPIRE write on most events, the keys living at least that long past their last use.
docs/features.md has the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.datastore.keys import safe_id
from engine.events import is_payment
from engine.features.builder import LINK_PREFIX, Arg, Batch, RequestBuilder
from engine.features.keys import KeyBuilder, entity_value
from engine.features.plan import LinkGraph
from engine.features.spec import UNIT_SECONDS, Entity, LinkMetric

#: Identities that link customers for the whole window, and those that link only on the event.
STRONG: tuple[Entity, ...] = tuple(e for e in LINK_PREFIX if e is not Entity.IP)
WEAK: tuple[Entity, ...] = (Entity.IP, Entity.SUBNET)
#: A customer's peers are capped at the newest this many (its ``lk:peers`` set too).
GROUP_CAP = 64
#: Shares, rewards and identities read the newest this many members of the group (by link time).
FACTS_CAP = 16
#: ``identities`` counts at most this many (and the script stops reading members' identities there).
IDENTITY_CAP = 64
Value = int | float | bool | None
#: The op code of each metric the script aggregates over the members' facts (op LM in plan.lua).
_CODES: dict[LinkMetric, str] = {
    LinkMetric.NEW_SHARE: "N",
    LinkMetric.RETURNING_SHARE: "R",
    LinkMetric.PAID_SHARE: "P",
    LinkMetric.REWARDS: "G",
    LinkMetric.IDENTITIES: "I",
}
#: A member's role in op LM: a peer, the customer with its facts (round 1), the customer's identities only.
_PEER, _SELF, _SELF_IDENTITIES = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Aggregates:
    """What op LM computes, per link graph: one (value index, code, window ms, within ms) per feature."""

    specs: tuple[tuple[int, str, int, int], ...]
    prefixes: str  # first characters of the strong identities' link members (``d``, ``p``...)
    identities: bool  # some feature counts identities: the customer's own are read in round 2 too

    def args(self, t: int) -> list[Arg]:
        """The per-spec part of op LM at event time ``t``."""
        out: list[Arg] = [len(self.specs)]
        for _, code, window_ms, within_ms in self.specs:
            low = t - window_ms
            if code == "G":  # grants are scored in seconds
                out.extend((code, low, f"({low / 1000!r}"))
            elif code == "I":
                out.extend((code, low, f"({low}"))
            else:
                out.extend((code, low, within_ms))
        return out


_AGGREGATES: dict[int, tuple[LinkGraph, Aggregates]] = {}


def peers_key(tenant: str, customer: str) -> str:
    """``{C}:lk:peers`` of ``customer``, for a reader outside a feature batch (a hold's release)."""
    return f"{KeyBuilder.entity_tag(tenant, Entity.CUSTOMER, safe_id(customer))}:lk:peers"


#: The strong identities a stranger cannot take on by typing them (``{C}:links`` members): the device the
#: storefront's SDK reports and the wallet a payment came from. A delivery address or a phone is typed by the
#: customer, and a group-buy leader's are known to her whole group (the pickup point, the number on the poster).
UNTYPED_PREFIXES = ("d:", "w:")


def links_key(tenant: str, customer: str) -> str:
    """``{C}:links`` of ``customer`` (the identities it used, newest 32, ``RequestBuilder.add_links``)."""
    return f"{KeyBuilder.entity_tag(tenant, Entity.CUSTOMER, safe_id(customer))}:links"


def untyped_reads(keys: KeyBuilder, tenant: str, member: str, leader: str, event: Any) -> list[tuple[Any, ...]]:
    """The reads :func:`untyped_link` answers from: both ``{C}:links``, and the leader in the users
    (``{I}:lk:cus``) of the event's own device and wallet.

    The second part is what a leader cannot trim away: her ``{C}:links`` keeps her newest 32 identities,
    which events on other devices and addresses push her phone out of, but she stays among her phone's
    users for the link window whenever she uses it.
    """
    reads: list[tuple[Any, ...]] = [
        ("ZRANGE", links_key(tenant, member), 0, -1),
        ("ZRANGE", links_key(tenant, leader), 0, -1),
    ]
    for entity in (Entity.DEVICE, Entity.PAYMENT):
        raw = entity_value(event, entity)
        if raw is not None:
            reads.append(("ZSCORE", f"{keys.locate(tenant, entity, raw)[1]}:lk:cus", safe_id(leader)))
    return reads


def untyped_link(replies: Sequence[Any]) -> bool:
    """From :func:`untyped_reads`' replies: the member and the leader share a device or a wallet."""
    return shares_untyped(replies[0], replies[1]) or any(r is not None for r in replies[2:])


def shares_untyped(mine: Sequence[Any], theirs: Sequence[Any]) -> bool:
    """Whether two ``{C}:links`` sets (ZRANGE replies) share a device or a wallet, not only a typed identity."""
    own = {_member(m) for m in mine}
    return any((m := _member(x)) in own and m[:2] in UNTYPED_PREFIXES for x in theirs)


def _member(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def aggregates(graph: LinkGraph) -> Aggregates:
    """The graph's op LM specs, derived once per graph."""
    cached = _AGGREGATES.get(id(graph))
    if cached is not None and cached[0] is graph:
        return cached[1]
    specs = tuple(
        (index, _CODES[spec.metric], spec.window_seconds * 1000, (spec.within_seconds or 0) * 1000)
        for index, spec in graph.specs
        if spec.metric in _CODES
    )
    prefixes = "".join(LINK_PREFIX[e] for e in graph.via if e in LINK_PREFIX)
    found = Aggregates(specs, prefixes, any(code == "I" for _, code, _, _ in specs))
    if len(_AGGREGATES) > 256:
        _AGGREGATES.clear()
    _AGGREGATES[id(graph)] = (graph, found)
    return found


@dataclass(slots=True)
class Observed:
    """What round 1 found: live strong peers, this event's weak peers, new links, hubs, the customer's own part."""

    customer: str
    peers: dict[str, tuple[int, int]] = field(default_factory=dict)  # strong: peer -> (link time, since)
    weak: dict[str, int] = field(default_factory=dict)  # peer -> its use of the weak identity (ms)
    new_links: dict[str, int] = field(default_factory=dict)  # peer -> link time
    writes: dict[str, int] = field(default_factory=dict)  # the new links that change the stored ones
    hubs: int = 0
    own: list[Any] | None = None  # op LM's answer over the customer alone
    _members: list[tuple[str, int]] | None = None

    def members(self) -> list[tuple[str, int]]:
        """Every peer with its latest link time, newest first, capped at GROUP_CAP (sorted once)."""
        if self._members is None:
            times = {m: s for m, (s, _) in self.peers.items()}
            for m, s in self.weak.items():
                if s > times.get(m, 0):
                    times[m] = s
            self._members = sorted(times.items(), key=lambda kv: (-kv[1], kv[0]))[:GROUP_CAP]
        return self._members


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
        paid = 1 if is_payment(builder.event) else 0
        batch.ops.extend(("LF", batch.key(f"{tag}:lk:f"), paid, builder.history_ttl, aggregates(graph).prefixes))
    prefix = _fused_prefix(builder, tag, customer)
    agg = aggregates(graph)
    if builder.read_values:
        after = f"({builder.t - graph.window_ms}"
        batch.ops.extend(("LG", batch.key(f"{tag}:lk:peers"), batch.key(f"{tag}:lk:since"), after))
        batch.extras.append("lk:peers")
        if agg.specs and prefix is None:  # the customer's own part of the group (op LM: rewards of others only)
            member = (batch.key(f"{tag}:lk:f"), 0, batch.key(f"{tag}:links"), builder.t, _SELF)
            _group_op(batch, agg, agg.args(builder.t), [member], listed=False)
            batch.extras.append("lk:self")
    kinds = ""
    for entity, window_ms, strong in identities(graph):
        located = builder.locate(entity)
        if located is None:
            continue
        kinds += "S" if strong else "W"
        itag = located[1]
        ibatch = builder.batch(itag)
        key = ibatch.key(f"{itag}:lk:cus")
        ibatch.ops.extend((
            "LI", key, 1 if builder.record else 0, customer, builder.window_ttl(window_ms),
            builder.trim(window_ms), f"({builder.t - window_ms}", graph.fanout + 1,
        ))  # fmt: skip
        ibatch.extras.append(f"lk:{entity.value}")
    if prefix is not None:  # one server: round 2 in this same script call (op LR), no second round trip
        batch.ops.extend((
            "LR", 1 if builder.record else 0, 1 if builder.read_values else 0, customer, prefix, graph.fanout, kinds,
            builder.history_ttl, builder.trim(graph.window_ms), GROUP_CAP, FACTS_CAP, agg.prefixes, IDENTITY_CAP,
            *agg.args(builder.t),
        ))  # fmt: skip
        batch.extras.append("lk:r")


def _fused_prefix(builder: RequestBuilder, tag: str, customer: str) -> str | None:
    """On one server, the customer tag less its id and closing brace (op LR builds the peers' keys from it).

    None on a cluster, where each peer's keys live in their own slot: round 2 is a second round trip.
    """
    if builder.cluster:
        return None
    prefix = builder.tag_of(Entity.CUSTOMER, "")[:-1]
    return prefix if tag == f"{prefix}{customer}}}" else None


def _group_op(
    batch: Batch, agg: Aggregates, spec_args: list[Arg], members: list[tuple[int, int, int, int, int]], *, listed: bool
) -> None:
    """Op LM over ``members`` (facts key, grants key, links key, link time, role), all in ``batch``'s slot."""
    batch.ops.extend(("LM", agg.prefixes, IDENTITY_CAP, 1 if listed else 0, *spec_args, len(members)))
    for member in members:
        batch.ops.extend(member)


def observe(builder: RequestBuilder, graph: LinkGraph, batches: Sequence[Batch], results: Sequence[Any]) -> Observed:
    """Round 1's answers: peers, identity users (or hubs), the customer's own aggregates."""
    found = Observed(customer=_customer(builder))
    flat = extra_list(batches, results, "lk:peers") or []
    for k in range(0, len(flat) - 2, 3):
        found.peers[_text(flat[k])] = (_ms(flat[k + 1]), _ms(flat[k + 2]))
    for entity, _, strong in identities(graph):
        users = extra_list(batches, results, f"lk:{entity.value}")
        if users is None:
            continue
        if len(users) > 2 * graph.fanout:
            found.hubs += 1
            continue
        target = found.new_links if strong else found.weak
        for k in range(0, len(users) - 1, 2):
            member = _text(users[k])
            if member != found.customer:
                at = _ms(users[k + 1])
                if at > target.get(member, 0):
                    target[member] = at
    for member, at in found.new_links.items():
        old = found.peers.get(member)
        if old is None or old[0] < at:  # else C's side already has it: a renewal that changes nothing
            found.writes[member] = at
        found.peers[member] = (at, builder.t) if old is None else (max(old[0], at), old[1])
    found.own = extra_list(batches, results, "lk:self")
    return found


# -- round 2 ----------------------------------------------------------------------------


def emit_round_two(builder: RequestBuilder, graph: LinkGraph, found: Observed) -> None:
    """Write the new links on both sides; one op LM per slot over the members in it."""
    tag = builder.customer_tag()
    if builder.record and found.writes:
        writes = sorted(found.writes.items())
        _link(builder, graph, tag, writes)
        for member, at in writes:
            _link(builder, graph, builder.tag_of(Entity.CUSTOMER, member), [(found.customer, at)])
    agg = aggregates(graph)
    if not builder.read_values or not agg.specs or not (found.peers or found.weak):
        return
    slots: dict[int, tuple[Batch, list[tuple[int, int, int, int, int]]]] = {}
    for member, at in found.members()[:FACTS_CAP]:  # newest first: each window's group is a prefix
        mtag = builder.tag_of(Entity.CUSTOMER, member)
        batch = builder.batch(mtag)
        entry = (batch.key(f"{mtag}:lk:f"), batch.key(f"{mtag}:of:grants"), batch.key(f"{mtag}:links"), at, _PEER)
        slots.setdefault(id(batch), (batch, []))[1].append(entry)
    if agg.identities:  # the group's distinct identities include the customer's own
        batch = builder.batch(tag)
        own = (0, 0, batch.key(f"{tag}:links"), builder.t, _SELF_IDENTITIES)
        slots.setdefault(id(batch), (batch, []))[1].append(own)
    spec_args = agg.args(builder.t)
    for batch, members in slots.values():
        _group_op(batch, agg, spec_args, members, listed=builder.cluster)
        batch.extras.append("lk:m")


def _link(builder: RequestBuilder, graph: LinkGraph, tag: str, peers: list[tuple[str, int]]) -> None:
    """Op LP: link the customer under ``tag`` to ``peers`` (peer, link time), in one op per owner."""
    batch = builder.batch(tag)
    batch.ops.extend((
        "LP", batch.key(f"{tag}:lk:peers"), batch.key(f"{tag}:lk:since"), str(builder.t), builder.history_ttl,
        builder.trim(graph.window_ms), GROUP_CAP, len(peers),
    ))  # fmt: skip
    for peer, at in peers:
        batch.ops.extend((peer, str(at)))


def fused_answers(batches: Sequence[Batch], results: Sequence[Any]) -> list[list[Any]] | None:
    """Op LR's answer, as ``group_answers`` gives round 2's (None when round 1 had no op LR)."""
    answer = extra_list(batches, results, "lk:r")
    return None if answer is None else [answer] if answer else []


def group_answers(batches: Sequence[Batch], results: Sequence[Any]) -> list[list[Any]]:
    """Round 2's op LM answers, one per slot."""
    return [
        list(result[2 + batch.extras.index("lk:m")])
        for batch, result in zip(batches, results, strict=True)
        if "lk:m" in batch.extras
    ]


# -- values -------------------------------------------------------------------------------


def values(builder: RequestBuilder, graph: LinkGraph, found: Observed, answers: list[list[Any]]) -> dict[int, Value]:
    """Every link feature's value (value index -> value) from round 1 and the slots' op LM answers."""
    t = builder.t
    members = found.members()
    out: dict[int, Value] = {}
    for index, spec in graph.specs:
        low = t - spec.window_seconds * 1000
        match spec.metric:
            case LinkMetric.ACCOUNTS:
                out[index] = sum(1 for _, at in members if at > low)
            case LinkMetric.HUBS:
                out[index] = found.hubs
            case LinkMetric.LINK_AGE:
                strong = (found.peers.get(m) for m, at in members if at > low)
                since = [p[1] for p in strong if p is not None and p[0] > low]
                out[index] = None if not since else max(0, t - min(since)) / (UNIT_SECONDS[spec.unit] * 1000)
    agg = aggregates(graph)
    own = found.own or []
    for k, (index, code, _, _) in enumerate(agg.specs):
        if code == "I":
            out[index] = _distinct(answers, k) if answers else (int(own[2 * k + 1]) if own else 0)
        elif code == "G":
            out[index] = sum(int(a[2 * k + 1]) for a in answers)
        else:
            counted = sum(int(a[2 * k]) for a in (own, *answers) if a)
            flagged = sum(int(a[2 * k + 1]) for a in (own, *answers) if a)
            out[index] = flagged / counted if counted else None
    return out


def _distinct(answers: list[list[Any]], k: int) -> int:
    """The group's distinct identities: a count from one server, the union of each slot's (capped) on a cluster."""
    parts = [a[2 * k + 1] for a in answers]
    if all(isinstance(p, int) for p in parts):
        return min(IDENTITY_CAP, sum(int(p) for p in parts))
    union = {_text(i) for p in parts for i in p}
    return min(IDENTITY_CAP, len(union))


# -- plumbing -----------------------------------------------------------------------------


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
