"""Turn one event and one plan into script calls: one per node, or one per hash slot.

A :class:`Batch` is one call of ``scripts/plan.lua``: its keys, its ops, and which
feature values it fills. On a single Redis server every op of a request goes into one
batch (one EVALSHA, one round trip). On a cluster each entity's hash tag gets its own
batch, and all batches are sent in one pipeline; the few writes that depend on another
slot's answer (an invitee's upline copies the referrer's chain) go in a second phase.

Op order inside a batch is execution order: the builders below emit a feature's
write before its read (counts include the current event), defer first/last-seen
writes until after every read of them, and emit the customer's own device/ip links
first (so a self-referral sees them).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import orjson

from engine.datastore.keys import digest
from engine.events import Event
from engine.features.keys import KeyBuilder, entity_value
from engine.features.plan import Plan
from engine.features.spec import Entity

if TYPE_CHECKING:
    from engine.features.entity_hash import EntityOp

Arg = str | int | float
_stdlib_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode


def encode_ops(ops: list[Arg]) -> str:
    """The ops as one compact JSON array (ARGV[5] of plan.lua): orjson, the standard library behind it.

    redis-py spends microseconds per argument, and cjson decodes an array (indices and
    counts as numbers) far faster than Lua splits a string. orjson writes the same text as
    the standard library for the strings and integers ops hold, in a sixth of the time
    (19 -> 3 µs for a shipped-pack event's ~280 ops); what it refuses (a string with a
    lone surrogate, an integer past 64 bits) goes through the standard library as before.
    """
    try:
        return orjson.dumps(ops).decode()
    except TypeError:  # orjson.JSONEncodeError
        return _stdlib_encode(ops)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNSEEN = object()  # ``RequestBuilder.locate``: an entity not looked up yet
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Retention and skew of the feature store (every key gets a TTL from these)."""

    max_future_skew_s: int = 300  # event times later than now + this are clamped to it
    replay_ttl_s: int = 86_400  # how long an event id is remembered (idempotent replays)
    history_ttl_s: int = 400 * 86_400  # first/last seen, referral graph, windowless sets
    list_default_ttl_s: int = 3650 * 86_400  # list entries without an expiry
    ttl_slack_s: int = 3_600  # added to a window to get its set's TTL
    track_links: bool = True  # remember each customer's devices/ips/phones/addresses (own device, fraud labels)
    links_cap: int = 32  # newest of them kept per customer
    # replay: a log is history, so its event times are the clock (a log dated after this host's clock
    # must not read every later event into its windows); the API keeps the host's clock
    event_clock: bool = False


def event_ms(event: Event) -> int:
    """Event time in whole milliseconds since the epoch (exact integer arithmetic)."""
    return (event.timestamp - _EPOCH) // _MS


@dataclass(slots=True)
class Batch:
    """One script call: keys, ops, the value indices it owns, the extras it returns."""

    tag: str
    keys: list[str] = field(default_factory=list)
    ops: list[Arg] = field(default_factory=list)
    deferred: list[Arg] = field(default_factory=list)
    owned: list[int] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)  # names of the extra outputs, in order
    deferred_extras: list[str] = field(default_factory=list)  # those of deferred ops, returned after ``extras``
    marker: str = ""  # ARGV[4], set on the customer's batch when recording
    nested: list[int] = field(default_factory=list)  # places in ``ops`` of entity hash streams, flattened by argv
    _index: dict[str, int] = field(default_factory=dict)

    def key(self, name: str) -> int:
        """1-based index of ``name`` in KEYS, adding it on first use."""
        index = self._index.get(name)
        if index is None:
            self.keys.append(name)
            index = self._index[name] = len(self.keys)
        return index

    def has(self, name: str) -> bool:
        return name in self._index

    def argv(self, t: int, now: int, n: int) -> list[Arg]:
        """Header plus every op packed in one JSON array argument (see plan.lua)."""
        ops = self.flat_ops() if self.nested else self.ops
        return [t, now, n, self.marker, encode_ops(ops + self.deferred if self.deferred else ops)]

    def flat_ops(self) -> list[Arg]:
        """The ops with each entity hash's streams spliced in: their count, then each one's length and items.

        The streams are filled by every spec of the entity after its op was placed, so they
        are flattened here, once: cjson builds a table per nested array, and an event's ~30
        of them cost plan.lua as much as the rest of its ops together (op EH, plan.lua).
        """
        ops, out, start = self.ops, [], 0
        for at in self.nested:
            out += ops[start:at]
            streams: list[list[Arg]] = ops[at]  # type: ignore[assignment]  # the one non-scalar an op holds
            out.append(len(streams))
            for stream in streams:
                out.append(len(stream))
                out += stream
            start = at + 1
        out += ops[start:]
        return out


class RequestBuilder:
    """Collects the ops of one request into batches, per hash tag when on a cluster."""

    def __init__(
        self,
        *,
        keys: KeyBuilder,
        settings: StoreSettings,
        plan: Plan,
        tenant: str,
        event: Event,
        record: bool,
        cluster: bool,
        now_ms: int | None = None,
    ) -> None:
        self.keys = keys
        self.settings = settings
        self.plan = plan
        self.tenant = tenant
        self.event = event
        self.record = record
        self.read_values = True  # False for outcomes: record only
        self.cluster = cluster
        self.now = now_ms if now_ms is not None else int(time.time() * 1000)
        self.t = min(event_ms(event), self.now + settings.max_future_skew_s * 1000)
        # windows start W before the earlier of the event's time and the clock: an event dated
        # ahead inside the skew still sees what arrived before it (windows.py, "Dated by the caller")
        self.read_t = self.t if settings.event_clock else min(self.t, self.now)
        self.t_arg = str(self.t)
        self.history_ttl = str(settings.history_ttl_s * 1000)
        self.event_hash = digest(event.event_id)
        self.batches: dict[str, Batch] = {}
        self.written: set[str] = set()  # keys already given their write op
        self.entity_ops: dict[str, EntityOp] = {}  # tag -> its entity hash op (entity_hash.py)
        self._located: dict[Entity, tuple[str, str] | None] = {}
        self._bounds: dict[int | None, str] = {}
        self.upline_pending: Batch | None = None  # cluster: referrer batch whose chain B copies
        self.unpaid_pending = False  # cluster: phase 2 notes the referral if the referrer never paid

    # -- entities ------------------------------------------------------------------

    def entity_id(self, entity: Entity, raw: str | None) -> str | None:
        """Key id of a raw value (hashed when personal); None when absent."""
        return None if raw is None else self.keys.locate(self.tenant, entity, raw)[0]

    def locate(self, entity: Entity) -> tuple[str, str] | None:
        """Key id and tag of the event's value of ``entity`` (None when absent), once per request."""
        found = self._located.get(entity, _UNSEEN)
        if found is not _UNSEEN:
            return found  # type: ignore[return-value]  # a located value or None, never the sentinel
        raw = entity_value(self.event, entity)
        located = self._located[entity] = None if raw is None else self.keys.locate(self.tenant, entity, raw)
        return located

    def tag_of(self, entity: Entity, entity_id: str) -> str:
        """``KeyBuilder.tag`` (memoized per worker)."""
        return self.keys.tag(self.tenant, entity, entity_id)

    def batch(self, tag: str) -> Batch:
        """The batch for keys under ``tag`` (the only batch when not on a cluster)."""
        slot = tag if self.cluster else ""
        found = self.batches.get(slot)
        if found is None:
            found = self.batches[slot] = Batch(tag=tag)
        return found

    def customer_tag(self) -> str:
        located = self.locate(Entity.CUSTOMER)
        assert located is not None  # every event has a customer
        return located[1]

    # -- ttl and windows -------------------------------------------------------------

    # Numbers the script only passes on to Redis go as strings: cjson parses them faster
    # than numbers, and redis.call() need not format them back.

    def window_ttl(self, window_ms: int) -> str:
        """TTL (ms) of a set trimmed to ``window_ms``: the window plus slack, or the history TTL."""
        if window_ms < 0:
            return self.history_ttl
        return str(window_ms + self.settings.ttl_slack_s * 1000)

    def trim(self, window_ms: int) -> str:
        """Score at or below which members have left the longest window ('' = keep all)."""
        return "" if window_ms < 0 else str(self.read_t - window_ms)

    def low(self, window_seconds: int | None) -> int:
        """Exclusive lower bound of the window (min(t, now) - W, ...); -1 for all history."""
        return -1 if window_seconds is None else self.read_t - window_seconds * 1000

    def after(self, window_seconds: int | None) -> str:
        """``low`` as a Redis exclusive score bound: ``(<low>``."""
        found = self._bounds.get(window_seconds)
        if found is None:
            found = self._bounds[window_seconds] = f"({self.low(window_seconds)}"
        return found

    # -- request-level ops -------------------------------------------------------------

    def add_marker(self, mode: str) -> None:
        """Remember the event id in the customer's slot; a second sight is a replay."""
        batch = self.batch(self.customer_tag())
        index = batch.key(self.marker_key())
        ttl = self.settings.replay_ttl_s * 1000
        batch.marker = f"{index}|{ttl}|{mode}|{self.plan.fingerprint}"

    def marker_key(self) -> str:
        return f"{self.customer_tag()}:ev:{self.event_hash}"

    def add_links(self) -> None:
        """Record the customer's own device, ip, phone, address and payment: one ZADD in the customer's slot.

        The set's TTL (the history's) is renewed on a new member, else once a day of it has run (op LK: a PTTL
        read, not a PEXPIRE write, on an event that brings nothing new).

        Read when they refer someone (an invitee on the referrer's own device) and when
        they are labelled fraud (their known devices, phones and addresses are watched).
        """
        if not self.settings.track_links:
            return
        links = self.links()
        if not links:
            return
        tag = self.customer_tag()
        batch = self.batch(tag)
        batch.ops.extend(("LK", batch.key(f"{tag}:links"), self.history_ttl, self.settings.links_cap, len(links)))
        batch.ops.extend(links)

    def links(self) -> list[str]:
        """This event's identities as link members: ``d:<device>``; ``i:``, ``p:``, ``a:``, ``w:`` + a keyed hash.

        ``i`` ip, ``p`` phone (E.164), ``a`` address (its canonical key), ``w`` payment token.
        """
        found: list[str] = []
        for entity, prefix in LINK_PREFIX.items():
            located = self.locate(entity)
            if located is not None:
                found.append(f"{prefix}:{located[0]}")
        return found


#: Link member prefix of each identity a customer's ``links`` set remembers.
LINK_PREFIX: dict[Entity, str] = {
    Entity.DEVICE: "d",
    Entity.IP: "i",
    Entity.PHONE: "p",
    Entity.ADDRESS: "a",  # the canonical address key's hash (engine.identity.addresses)
    Entity.PAYMENT: "w",  # wallet or card token's hash
}
