"""Late evidence in the referral graph: a referrer whose invitees pay, then take the money back (刷单).

Hired buyers sign up through the farm's referrer, pay so a reward is released, and are
refunded days later. Each buyer alone is a real person who paid; what they share is the
referrer, and the refunds. Layout, under the *referrer's* customer hash tag (beside
``rg:inv`` and ``rg:paid``, engine/features/referral_graph.py):

- ``{A}:rg:rfd``  sorted set: A's invitees whose paid order was refunded or charged back,
  scored by the first such outcome (event time, ms), newest 4,096 kept, history TTL.

Written by a ``refund`` / ``chargeback`` outcome in the step that an ``order_paid`` uses
to mark ``rg:paid`` (the payer's slot names its first referrer, then the referrer's slot is
written), so a refund costs what a paid order costs: two dependent steps, the second one
only when the payer was referred. Only a customer **whose paid order A's slot recorded**
(``rg:paid``, at or before the refund) is added: a refund for a stranger, for a customer
who never paid, or sent before the payment, names nobody, and one invitee refunded ten
times counts once.

A refund that takes back **all** the payer had paid (its own net, ``rg:own`` ``n``, found by
step 1's op PV and returned to step 2) also notes the payer in

- ``{A}:rg:void`` hash: invitee -> time of the refund that left it nothing paid; ``paid_share``
  (op PS) leaves such an invitee out of the paying ones from then on, and the invitee's next
  paid order (op PM) takes the note off. A farm's one invitee in five buying the trial and
  refunding it in full no longer makes its referrer one "whose invitees buy". The
  ``rg:paid`` time stays (``refunded_invitees`` is counted against it).

Read on a referral event (the referrer's slot is in that event's first round already, so
no round trip is added): over the newest 512 invitees referred in the window,

- ``refunded_invitees``: how many were refunded within ``within`` of their first paid order;
- ``refund_share``: that count over the number of them who paid (missing when none paid).

Accuracy: exact for up to 512 invitees in the window (a referrer with more is judged on
its newest 512); the first referrer wins (as for ``paid_share``); a refund recorded before
its payment is not counted.
"""

from __future__ import annotations

from engine.features.builder import Batch, RequestBuilder
from engine.features.spec import Entity, ReferralFeature, ReferralMetric

#: Outcomes that take a paid order's money back.
REFUND_TYPES = frozenset({"refund", "chargeback"})
METRICS = frozenset({ReferralMetric.REFUNDED_INVITEES, ReferralMetric.REFUND_SHARE})
#: Invitees of one window a read looks at (the newest): bounds a read's cost on a farm's referrer.
READ_CAP = 512
#: Refunded invitees kept per referrer.
KEEP = 4096


def records(specs: tuple[object, ...]) -> bool:
    """True when a refund outcome must be noted in its referrer's slot: some spec of the plan reads it."""
    return any(isinstance(s, ReferralFeature) and s.metric in METRICS for s in specs)


def emit_read(builder: RequestBuilder, batch: Batch, tag: str, spec: ReferralFeature, index: int, until: str) -> None:
    """The RK op: invitees of the window refunded in time (count, or share of those who paid)."""
    inv, paid, rfd = (batch.key(f"{tag}:rg:{name}") for name in ("inv", "paid", "rfd"))
    share = 1 if spec.metric is ReferralMetric.REFUND_SHARE else 0
    within = (spec.within_seconds or 0) * 1000
    batch.ops.extend(("RK", index, share, inv, paid, rfd, builder.after(spec.window_seconds), until, within, READ_CAP))


def emit_mark(builder: RequestBuilder, referrer: str, *, all_back: bool = False) -> None:
    """Step 2 of a refund: note the refunded payer in its referrer's slot, if that slot saw it pay.

    ``all_back``: step 1 (op PV in the payer's own slot) found that the refund took back all it had
    paid; the payer is then also noted in ``rg:void`` and no longer counts as paid in ``paid_share``.
    """
    tag = builder.tag_of(Entity.REFERRER, referrer)
    batch = builder.batch(tag)
    payer = builder.entity_id(Entity.CUSTOMER, builder.event.customer) or ""
    paid, rfd = batch.key(f"{tag}:rg:paid"), batch.key(f"{tag}:rg:rfd")
    void = batch.key(f"{tag}:rg:void") if all_back else 0
    batch.ops.extend(("RM", paid, rfd, payer, builder.history_ttl, KEEP, void))
