"""Codes tied to where they were given: a coupon redeemed outside its group or campaign.

Code resale (DOMAIN.md): a code meant for one parents' group or one campaign is sold to
outsiders. The pack binds codes (``coupon_bindings``: exact codes or a prefix, to a
``group`` or a ``campaign``); ``coupon.outside_binding`` says the event's customer is
outside the code's binding.

Memberships live in the customer's own slot, ``{<customer>}:aff``, a sorted set of
``g:<group>`` / ``c:<campaign>`` scored by the latest event, the newest 64 kept, 400
days: the binding is known from the pack when the request is built, so the check is
one ZSCORE in the customer's batch, the same script call as the customer's other
features (no extra round trip, one slot on a cluster).

What makes a customer a member, and what it trusts:
- a **group**: a ``member_joined`` outcome with that group (the storefront relays the
  WeCom / WeChat join), undone by ``member_left``. Other events naming a group (a red
  packet tapped from a forwarded link, a group-buy id) do not make a member;
- a **campaign**: any *earlier* scored event of the customer naming the campaign (the
  sign-up or claim the code was given for). The redemption itself is read before it is
  recorded, so naming the campaign on the redemption proves nothing.
Limits: an outsider who first takes part in a campaign and then redeems a bought code
passes a campaign binding (bind to a group where the code is handed out in a group);
codes are compared in their canonical form (case, width and surrounding spaces folded:
engine/identity/coupons.py), so a resold code typed lower-case is still bound.
"""

from __future__ import annotations

from engine.datastore.keys import safe_id
from engine.events import SCORED_TYPES
from engine.features.builder import RequestBuilder
from engine.features.spec import BindingFeature, CouponBinding

JOINED = "member_joined"
LEFT = "member_left"
#: Newest memberships kept per customer: parents are in a handful of groups and campaigns.
MEMBERSHIP_CAP = 64


def member(binding: CouponBinding) -> str:
    """The membership a binding asks for: ``g:<group>`` or ``c:<campaign>``."""
    if binding.group is not None:
        return f"g:{safe_id(binding.group)}"
    return f"c:{safe_id(binding.campaign or '')}"


def fed_by(event_type: str) -> bool:
    """Whether events of this type can change a customer's memberships."""
    return event_type in (JOINED, LEFT) or event_type in SCORED_TYPES


def emit(builder: RequestBuilder, spec: BindingFeature, index: int) -> None:
    """Read the coupon's binding against the customer's memberships, then record this event's."""
    event = builder.event
    tag = builder.customer_tag()
    batch = builder.batch(tag)
    key = batch.key(f"{tag}:aff")
    if builder.read_values and event.coupon is not None:
        binding = spec.binding_of(event.coupon)
        batch.owned.append(index)
        batch.ops.extend(("ZM", index, key, "" if binding is None else member(binding)))
    record_memberships(builder)


def record_memberships(builder: RequestBuilder) -> None:
    """This event's memberships into the customer's ``aff`` (a join, a leave, a scored event's campaign)."""
    event = builder.event
    if not builder.record:
        return
    tag = builder.customer_tag()
    batch = builder.batch(tag)
    key = batch.key(f"{tag}:aff")
    if event.type == LEFT and event.group is not None:
        batch.ops.extend(("ZD", key, f"g:{safe_id(event.group)}"))
        return
    joined = [f"g:{safe_id(event.group)}"] if event.type == JOINED and event.group is not None else []
    if event.type in SCORED_TYPES and event.campaign is not None:
        joined.append(f"c:{safe_id(event.campaign)}")
    if joined:
        batch.ops.extend(("LK", key, builder.history_ttl, MEMBERSHIP_CAP, len(joined), *joined))
