"""One hash per entity: every bucketed, distinct and first/last-seen stream of it, in one op.

The window streams of one entity (a customer's order counts, spend, devices, age; a
device's accounts and claims) live as fields of one hash, ``{<entity>}:e1``, read by
one HMGET and written by one HSET of the fields that changed (op EH of plan.lua), so
the Redis calls of an event grow with the entities on it, not with the features of the
pack. Each field is one stream (named by a digest of its old key suffix, ``plan.stream
_fields``) holding a MessagePack array that Lua decodes and re-encodes in C:

- ``B`` count / sum buckets: ``[newest bucket index, its value, the one before, ...]``,
  a dense ring of at most ``ring`` buckets of the stream's width (no trailing zeros):
  a new bucket shifts it, nothing is trimmed or expired field by field;
- ``D`` exact distinct values: ``[value, last seen ms, ...]``, latest first, at most
  ``DISTINCT_CAP`` of them, dropped once past the stream's longest window;
- ``S`` first / last seen: ``[first ms, last ms]``.

The key's TTL is the longest any stream written needs (window + slack, or the history
TTL) and moves only when the expiry last given (field ``_e``, wall clock) falls short of
now + that TTL: it is then set to TTL + a quantum (1/8 of it, between 1 min and 1 day),
one PEXPIRE per quantum instead of one per write. The ``e1`` in the key is the layout's
version: the keys of the layout before it (``bc:``, ``dst:``, ``seen:`` sets) are never
read again and expire on their own TTLs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.features.builder import Arg, Batch, RequestBuilder

#: Version of the entity hash layout, part of its key.
KEY_SUFFIX = "e1"

#: Distinct values kept per stream: counts are exact up to this, and read as this beyond it.
DISTINCT_CAP = 32


@dataclass(slots=True)
class EntityOp:
    """The EH op of one entity in one batch: its streams, filled by each spec that touches it."""

    batch: Batch
    ttl_at: int  # position of the op's TTL argument in ``batch.ops``
    streams: list[list[Arg]] = field(default_factory=list)
    by_field: dict[str, list[Arg]] = field(default_factory=dict)

    def stream(self, name: str, head: tuple[Arg, ...]) -> tuple[list[Arg], bool]:
        """The stream ``name`` (created with ``head`` on first use) and whether it is new."""
        found = self.by_field.get(name)
        if found is not None:
            return found, False
        found = self.by_field[name] = list(head)
        self.streams.append(found)
        return found, True

    def needs(self, ttl_ms: int) -> None:
        """A stream written by this event needs the key to live ``ttl_ms`` more."""
        ops = self.batch.ops
        current = ops[self.ttl_at]
        assert isinstance(current, int)
        if ttl_ms > current:
            ops[self.ttl_at] = ttl_ms


def entity_op(builder: RequestBuilder, tag: str, guard: bool) -> EntityOp:
    """The EH op of the entity under ``tag``, added to its batch on first use.

    ``guard``: on a cluster, this slot's own event marker first, so a repeated event id
    writes nothing here (the buckets are the one stream a second write would change).
    """
    found = builder.entity_ops.get(tag)
    if found is not None:
        return found
    batch = builder.batch(tag)
    if guard:
        guard_slot(builder, batch, tag)
    batch.ops.extend(("EH", batch.key(f"{tag}:{KEY_SUFFIX}"), 0))
    op = builder.entity_ops[tag] = EntityOp(batch=batch, ttl_at=len(batch.ops) - 1)
    batch.nested.append(len(batch.ops))
    batch.ops.append(op.streams)  # type: ignore[arg-type]  # spliced in flat by Batch.argv, once they are complete
    return op


def guard_slot(builder: RequestBuilder, batch: Batch, tag: str) -> None:
    """Cluster: this slot's own copy of the event marker, so a repeated event id adds to no bucket here."""
    name = f"{tag}:ev:{builder.event_hash}"
    if not batch.has(name):
        batch.ops.extend(("EG", batch.key(name), str(builder.settings.replay_ttl_s * 1000)))
