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
event has none). Exact; sets are trimmed to the longest window and expire with it.
"""

from __future__ import annotations

from engine.features.builder import RequestBuilder
from engine.features.keys import entity_value
from engine.features.plan import GROUP_SETS
from engine.features.spec import Entity, GroupFeature, GroupMetric

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
    if builder.record and builder.event.type == JOIN and key not in builder.written:
        builder.written.add(key)
        ttl, trim = builder.window_ttl(window), builder.trim(window)
        batch.ops.extend(("ZA", key_index, "GT", customer, ttl, trim))
    if spec.metric is GroupMetric.MEMBERS:
        batch.ops.extend(("ZC", index, key_index, builder.after(spec.window_seconds), "+inf"))
    else:
        batch.ops.extend(("GS", index, key_index, builder.low(spec.window_seconds), customer))
