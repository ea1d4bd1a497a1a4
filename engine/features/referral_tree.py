"""Referral trees and where invitees are from: the referrer's whole subtree, and its regions.

A crowd-worker sign-up task shows as a tree: each node invites a few people, many
levels deep, nationwide, and nobody ever buys. Each node alone looks like a modest
referrer; the tree does not. Layout, under each ancestor X's customer hash tag:

- ``{X}:rg:sub``   zset: every customer referred into X's subtree (X's invitees, their
  invitees... up to 8 levels, the upline chain's cap), scored by the latest referral.
- ``{X}:rg:tree``  hash: ``d`` the deepest level below X ever recorded (1: invitees only).
- ``{X}:rg:tpaid`` hash: member of X's subtree -> its first paid order (event time).
- ``{A}:rg:reg``   zset: regions (short province names, or a country) of A's invitees,
  ``{A}:rg:out`` zset: A's invitees whose region is known and outside ``pack.service_area``.

Writes on a referral B -> A: A's own sets in A's slot (round 1, the script that records
the edge); each further ancestor's ``rg:sub`` / ``rg:tree`` in its own slot in the next
step (the ancestors' ids come from A's upline, ``{A}:up`` field ``i``), sent together
with the other dependent writes of the request (one round trip at most). A paid order
marks the payer in each ancestor's ``rg:tpaid`` in the step that already marks its
referrer's ``rg:paid``. The invitee's region is its phone's (phonenumbers' geocoder),
else its IP's (ip2region), see engine/geo.py; none when neither is known.

Accuracy: exact, up to the chain cap (descendants deeper than 8 levels below X are not
in X's subtree) and the first-referrer-wins upline (a customer is in the subtrees of its
first referrer's chain only). The subtree's buy rate uses the same rule as ``paid_share``.
"""

from __future__ import annotations

from engine import geo
from engine.features.builder import Batch, RequestBuilder
from engine.features.spec import Entity, ReferralFeature, ReferralMetric

#: Referrer-side sets this module writes (engine/features/plan_reads.py REFERRAL_SETS).
SETS = frozenset({"sub", "reg", "out"})
CHAIN_CAP = 8


def emit_record(builder: RequestBuilder, batch: Batch, tag: str, name: str, invitee: str) -> None:
    """Round 1 of a referral: the referrer's own subtree / region sets."""
    if name == "sub":
        if invitee != builder.entity_id(Entity.REFERRER, builder.event.referrer):  # not into its own subtree
            subtree_entry(builder, batch, tag, invitee, level=1)
        return
    region = invitee_region(builder)
    if region is None:
        return
    if name == "reg":
        _add(builder, batch, f"{tag}:rg:reg", region, "rg:reg")
    elif region not in service_area(builder):
        _add(builder, batch, f"{tag}:rg:out", invitee, "rg:out")


def subtree_entry(builder: RequestBuilder, batch: Batch, tag: str, invitee: str, *, level: int) -> None:
    """Put ``invitee`` into one ancestor's subtree, ``level`` below it."""
    if "rg:sub" in builder.plan.windows:
        _add(builder, batch, f"{tag}:rg:sub", invitee, "rg:sub")
    batch.ops.extend(("TD", batch.key(f"{tag}:rg:tree"), level, builder.history_ttl))


def emit_ancestors(builder: RequestBuilder, ids: str) -> None:
    """The next step of a referral: the invitee into the subtree of each of the referrer's ancestors."""
    invitee = builder.entity_id(Entity.CUSTOMER, builder.event.customer) or ""
    for position, ancestor in enumerate(ids.split(",")[: CHAIN_CAP - 1] if ids else []):
        if ancestor and ancestor != invitee:  # a ring: the invitee is its own ancestor
            tag = builder.tag_of(Entity.CUSTOMER, ancestor)
            subtree_entry(builder, builder.batch(tag), tag, invitee, level=position + 2)


def emit_paid_marks(builder: RequestBuilder, ids: str) -> None:
    """A paid order: mark the payer in the subtree of each of its ancestors (ids: its upline, nearest first)."""
    payer = builder.entity_id(Entity.CUSTOMER, builder.event.customer) or ""
    for ancestor in ids.split(",")[:CHAIN_CAP] if ids else []:
        if ancestor and ancestor != payer:
            tag = builder.tag_of(Entity.CUSTOMER, ancestor)
            batch = builder.batch(tag)
            batch.ops.extend(("PM", batch.key(f"{tag}:rg:tpaid"), payer, builder.history_ttl, 0))


def invitee_region(builder: RequestBuilder) -> str | None:
    """The event customer's region: its phone's, else its IP's; None when neither is known."""
    event = builder.event
    region = geo.phone_region(event.phone) if event.phone else None
    if region is None and event.ip:
        region = geo.ip_region(event.ip)
    return region


def service_area(builder: RequestBuilder) -> frozenset[str]:
    """The area an ``outside_share`` feature of the plan compares with (one per pack)."""
    for spec in builder.plan.specs:
        if isinstance(spec, ReferralFeature) and spec.metric is ReferralMetric.OUTSIDE_SHARE:
            return spec.area
    return frozenset()


def _add(builder: RequestBuilder, batch: Batch, key: str, member: str, window_name: str) -> None:
    window = builder.plan.windows[window_name]
    batch.ops.extend(("ZA", batch.key(key), "GT", member, builder.window_ttl(window), builder.trim(window)))
