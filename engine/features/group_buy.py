"""Group-buy (拼团) features: members of one group, and members sharing a device, ip, address.

Self-dealing group-buys are one person filling a group with their own accounts: the
accounts share a device, an ip or a shipping address. Under the group's hash tag:

- ``{G}:gb:mem``         sorted set of members (customer ids), scored by latest join.
- ``{G}:gb:d:<device>``  members who joined from that device; ``gb:i:<ip hash>`` and
  ``gb:a:<address hash>`` likewise.

Joins are recorded from ``group_buy_join`` events only; any event carrying a group
reads them. ``members`` counts the group's members whose latest join is in the
window (all history without one) including the current one; ``shared_*`` counts the
*other* members who joined from this event's device / ip / address (missing when the
event has none). Exact; the members set is joined and counted by one op (DX,
windows.distinct_op: its TTL renewed every 30 min of the group's activity), the shared
sets by ZA; all are trimmed to the longest window on one join in 8 (every read is bounded
by its window) and expire with it.
"""

from __future__ import annotations

from engine.features.builder import RequestBuilder
from engine.features.keys import entity_value
from engine.features.plan import GROUP_SETS
from engine.features.spec import Entity, GroupFeature, GroupMetric
from engine.features.windows import distinct_op, trims

_SHARED_ENTITY: dict[GroupMetric, Entity] = {
    GroupMetric.SHARED_DEVICE: Entity.DEVICE,
    GroupMetric.SHARED_IP: Entity.IP,
    GroupMetric.SHARED_ADDRESS: Entity.ADDRESS,
}

JOIN = "group_buy_join"


def emit(builder: RequestBuilder, spec: GroupFeature, index: int) -> None:
    """Add the ops recording (on a join) and reading ``spec`` for this event."""
    group = builder.entity_id(Entity.GROUP, builder.event.group)
    if group is None:
        return
    set_name = GROUP_SETS[spec.metric]
    tag = builder.tag_of(Entity.GROUP, group)
    if spec.metric is GroupMetric.MEMBERS:
        key = f"{tag}:gb:{set_name}"
    else:
        entity = _SHARED_ENTITY[spec.metric]
        value = builder.entity_id(entity, entity_value(builder.event, entity))
        if value is None:
            return
        key = f"{tag}:gb:{set_name}:{value}"
    batch = builder.batch(tag)
    batch.owned.append(index)
    key_index = batch.key(key)
    customer = builder.entity_id(Entity.CUSTOMER, builder.event.customer) or ""
    window = builder.plan.windows[f"gb:{set_name}"]
    join = builder.record and builder.event.type == JOIN and key not in builder.written
    if join:
        builder.written.add(key)
    if spec.metric is GroupMetric.MEMBERS:  # the join and the count in one op (windows.distinct_op)
        reads = ((index, spec.window_seconds),) if builder.read_values else ()
        distinct_op(builder, batch, key_index, customer if join else "", window, reads)
        return
    if join:  # every read of these sets is bounded by its window: trimmed on one join in 8
        trim = builder.trim(window) if trims(builder) else ""
        batch.ops.extend(("ZA", key_index, "GT", customer, builder.window_ttl(window), trim))
    batch.ops.extend(("GS", index, key_index, builder.low(spec.window_seconds), customer))
