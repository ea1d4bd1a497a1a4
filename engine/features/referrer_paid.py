"""Whether a referrer is itself a customer: the age of its own latest paid order (刷单, issue 14).

A 刷单 organiser's referrer accounts gain payers without ever paying themselves: paying
costs the organiser money and buys it nothing. A parent who shares the poster has, as a
rule, bought (the honest look-alike is a newcomer who shares before the first session).
Layout, under the customer's own hash tag (which is the referrer's slot when it refers):

- ``{C}:rg:own``  hash ``f`` / ``l``: the first and latest ``order_paid`` recorded for C
  (event time, ms), written by C's own paid orders (op SW, as ``first_seen`` is), kept
  for the history TTL after the latest.

Read on a referral (op SR in the referrer's slot, which the event's first round already
holds: no call and no round trip added): ``days_since_paid`` is the age in days of the
referrer's latest paid order at the event time, **missing when it never paid**.

The buyer's own order does not name its referrer, so what the referral knew is carried to it:

- ``{C}:rg:uref`` hash ``f`` / ``l``: C's first and latest referral through a referrer that
  had never paid at that moment; ``unpaid_referral_hours`` (read on any event, op SR in
  C's own slot) is the age in hours of the first, missing when there is none. Written on
  the referral: in the same script on one server (op UP checks the referrer's
  ``rg:own``), in the referral's phase 2 on a cluster (op RP returns the referrer's latest
  paid time from its slot). No round trip is added on either.

What it trusts: only ``order_paid`` outcomes, which need an ``events`` key (the store's
own back end); a scoring caller cannot make a referrer look like a customer, and an
``order`` event (an intent, not a payment) writes nothing.

**A payment taken back is no payment** (red team, session 7): the organiser's account that
buys the trial and refunds it in full has paid nothing, yet it looked like a customer for a
year and the rules that catch its ring before the refunds were off. ``rg:own`` field ``n``
is the customer's net paid amount (each ``order_paid``'s ``amount`` added, op PN; each of
its own ``refund`` / ``chargeback`` amounts taken off, op PV). A refund that leaves less than
half a fen clears ``f`` / ``l``, the chain's own mark (``rg:me`` ``p``,
referral_graph.py) and the links' first paid order (``lk:f`` ``p``, links.py: a farm's
linked group is "none paid" again): the customer is "never paid" until it pays again. A refund with
no amount takes back everything; a payment with no amount counts for nothing against a
later refund; an order of 0 (a 0元 checkout) is no payment at all and marks nothing
(red team, session 8: ``engine.events.is_payment``). A partial refund (one add-on of a
package) leaves a customer a customer.
What it does not undo: a link written below the account while it was paid keeps the
``k`` it was written with (referral_graph.py), and a payment the merchant keeps, however
cheap, is a payment: a minimum price of being a customer is the pack's choice
(``customer.spend_365d``-style sums), not this mark's. The refunds of an account's
invitees are ``refunded_invitees``' evidence. Accuracy: exact while the latest paid order
is within the history TTL (365 days by default); older is "never paid".
"""

from __future__ import annotations

from engine.events import is_payment
from engine.features.builder import Batch, RequestBuilder
from engine.features.referral_refunds import REFUND_TYPES
from engine.features.spec import Entity, ReferralFeature, ReferralMetric

METRIC = ReferralMetric.DAYS_SINCE_PAID
#: Metrics whose store is written by the customer's own paid orders (fed by ``order_paid``).
METRICS = frozenset({METRIC, ReferralMetric.UNPAID_REFERRAL_HOURS})
_DAY_MS, _HOUR_MS = 86_400_000, 3_600_000
#: The paid-times hash's TTL is renewed at most once a day (op SW's quantum).
SEEN_TTL_QUANTUM_MS = _DAY_MS


def records(specs: tuple[object, ...]) -> bool:
    """True when a paid order must be noted in its payer's own slot: some spec of the plan reads it."""
    return any(isinstance(s, ReferralFeature) and s.metric in METRICS for s in specs)


def emit_read(batch: Batch, tag: str, index: int) -> None:
    """The SR op: age in days of the referrer's latest paid order (missing when it never paid)."""
    batch.ops.extend(("SR", index, batch.key(f"{tag}:rg:own"), "l", _DAY_MS))


def emit_record(builder: RequestBuilder, *, times: bool) -> None:
    """On the customer's own ``order_paid``: its net paid amount, and (``times``) widen its [first, latest]
    paid times to include this one; on its own ``refund`` / ``chargeback``: take the amount off, and clear
    the paid marks when nothing paid is left."""
    event = builder.event
    if not is_payment(event) and event.type not in REFUND_TYPES:  # an order of 0 paid nothing
        return
    tag = builder.customer_tag()
    batch = builder.batch(tag)
    own = batch.key(f"{tag}:rg:own")
    amount = "" if event.amount is None else repr(float(event.amount))
    if event.type in REFUND_TYPES:
        me = batch.key(f"{tag}:rg:me") if builder.plan.referrer_paid else 0
        linked = batch.key(f"{tag}:lk:f") if builder.plan.links is not None else 0
        batch.deferred.extend(("PV", own, me, linked, amount))
        batch.deferred_extras.append("void")  # '1' when nothing paid is left: the referrer's step 2 voids the payer
        return
    settings = builder.settings
    ttl = str((settings.history_ttl_s + settings.max_future_skew_s) * 1000 + SEEN_TTL_QUANTUM_MS)
    if times:
        batch.deferred.extend(("SW", own, ttl, SEEN_TTL_QUANTUM_MS))
    batch.deferred.extend(("PN", own, amount or "0", ttl))


def emit_unpaid(builder: RequestBuilder, index: int) -> None:
    """``unpaid_referral_hours``: read the customer's note; on a recorded referral, make it if the referrer never paid.

    One slot's script cannot read another's keys on a cluster, so there the referrer's
    slot returns its latest paid time (op RP) and the note is written in the phase 2 the
    referral already makes (the upline); on one server the same script checks and writes
    (op UP, deferred after every read).
    """
    tag = builder.customer_tag()
    batch = builder.batch(tag)
    key = batch.key(f"{tag}:rg:uref")
    batch.owned.append(index)
    if builder.read_values:
        batch.ops.extend(("SR", index, key, "f", _HOUR_MS))
    event = builder.event
    if not builder.record or event.type != "referral" or event.referrer is None:
        return
    referrer = builder.entity_id(Entity.REFERRER, event.referrer) or ""
    referrer_tag = builder.tag_of(Entity.REFERRER, referrer)
    if builder.cluster:
        referrer_batch = builder.batch(referrer_tag)
        referrer_batch.ops.extend(("RP", referrer_batch.key(f"{referrer_tag}:rg:own")))
        referrer_batch.extras.append("paid")
        builder.unpaid_pending = True
        return
    batch.deferred.extend(("UP", batch.key(f"{referrer_tag}:rg:own"), key, builder.history_ttl))


def unpaid_op(builder: RequestBuilder, batch: Batch) -> tuple[str | int, ...]:
    """Phase 2 on a cluster: the referrer was found never to have paid; note the referral in the customer's slot."""
    tag = builder.customer_tag()
    return ("UP", 0, batch.key(f"{tag}:rg:uref"), builder.history_ttl)
