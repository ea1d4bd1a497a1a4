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

What it trusts: only ``order_paid`` outcomes, which need an ``events`` key (the store's
own back end); a scoring caller cannot make a referrer look like a customer, and an
``order`` event (an intent, not a payment) writes nothing. A refund does not undo the
payment (a referrer that paid once and refunded counts as having paid); the refunds of
its invitees are ``refunded_invitees``' evidence. Accuracy: exact while the latest paid
order is within the history TTL (365 days by default); older is "never paid".
"""

from __future__ import annotations

from engine.features.builder import Batch, RequestBuilder
from engine.features.spec import ReferralFeature, ReferralMetric
from engine.features.windows import SEEN_TTL_QUANTUM_MS

METRIC = ReferralMetric.DAYS_SINCE_PAID
_DAY_MS = 86_400_000


def records(specs: tuple[object, ...]) -> bool:
    """True when a paid order must be noted in its payer's own slot: some spec of the plan reads it."""
    return any(isinstance(s, ReferralFeature) and s.metric is METRIC for s in specs)


def emit_read(batch: Batch, tag: str, index: int) -> None:
    """The SR op: age in days of the referrer's latest paid order (missing when it never paid)."""
    batch.ops.extend(("SR", index, batch.key(f"{tag}:rg:own"), "l", _DAY_MS))


def emit_record(builder: RequestBuilder) -> None:
    """On an ``order_paid``: widen the payer's own [first, latest] paid times to include this one."""
    if builder.event.type != "order_paid":
        return
    tag = builder.customer_tag()
    batch = builder.batch(tag)
    settings = builder.settings
    ttl = str((settings.history_ttl_s + settings.max_future_skew_s) * 1000 + SEEN_TTL_QUANTUM_MS)
    batch.deferred.extend(("SW", batch.key(f"{tag}:rg:own"), ttl, SEEN_TTL_QUANTUM_MS))
