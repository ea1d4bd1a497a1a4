"""Referral graph: who invited whom, read from the referrer's side in one slot.

Layout (all under the *referrer's* customer hash tag, so a referral event touches the
referrer's slot and the invitee's slot only):

- ``{A}:up``      hash: A's own upline: ``r`` referrer id, ``a`` referral time (ms),
  ``c`` ancestor chain (up to 8 digests of customer ids, nearest first), ``d`` depth.
- ``{A}:rg:inv``  sorted set of A's invitees, scored by their latest referral by A.
- ``{A}:rg:dev`` / ``rg:ip`` / ``rg:net``: distinct devices / ip hashes / subnet hashes
  seen on A's referral events, scored by latest time.
- ``{A}:rg:odev`` / ``rg:oip``: invitees whose referral came from a device / ip that
  A itself used before (A's ``{A}:links``, recorded from A's own events).
- ``{A}:rg:paid`` hash: invitee -> time of its first paid order (only invitees whose
  first referrer is A); ``{A}:rg:void`` those of them whose refund took back all they had
  paid, until they pay again (engine/features/referral_refunds.py).
- ``{A}:up`` field ``k``: how many of A's referrer and its upline had paid when A's link
  was written (the referrer's ``rg:me`` mark plus the referrer's own ``k``), so
  ``chain_paid`` (the referrer's mark now + its ``k``) asks "has anyone up this chain ever
  paid" in the referrer's slot, without visiting the root's. An ancestor who pays after
  the link below it was written is not counted for that link (a tree's root stays unpaid).
- ``{A}:rg:me`` hash: ``p`` the time of A's *own* first paid order, written in A's slot by
  the step that already asks A's upline on a paid order, read by ``referrer_paid`` in the
  referral's one referrer-slot call: a colleague who buys and shares the poster differs
  from a crowd worker who never pays (a refund does not clear it: the refund rules judge that).

An invitee's upline is written once (the first referrer wins) and copies the
referrer's chain, so ``depth`` is 1 + the referrer's depth and a **ring** is a new
edge A -> B where B already is A (a self-referral) or one of A's ancestors within
``hops - 1`` steps: the edge closes a cycle of at most ``hops`` edges. Chains hold 8
ancestors, so rings of up to 8 edges are found (the rule-pack schema allows 2-8).

``paid_share`` is the share of A's invitees referred in the window whose first paid
order (at or before the event time) came at most ``within`` after their referral;
invitees who have not paid yet, or whose payments were all refunded (``rg:void`` at or
before the event time), count as unpaid. Missing when A has no invitees in
the window. A paid order is recorded by :func:`emit_paid` / :func:`emit_paid_mark`,
two dependent steps (the invitee's slot says who the referrer is).
"""

from __future__ import annotations

from engine.datastore.keys import digest
from engine.events import ip_subnet
from engine.features import referral_refunds, referral_tree, referrer_paid, windows
from engine.features.builder import Batch, RequestBuilder
from engine.features.spec import Entity, ReferralFeature, ReferralMetric

#: Lua RU sentinel: take the referrer's chain from the register loaded by RR.
FROM_REGISTER = "~"
_NO_LIMIT_MS = 10**15

_SET_OF: dict[ReferralMetric, str] = {
    ReferralMetric.INVITEES: "inv",
    ReferralMetric.INVITEE_DEVICES: "dev",
    ReferralMetric.INVITEE_IPS: "ip",
    ReferralMetric.INVITEE_SUBNETS: "net",
    ReferralMetric.INVITEES_ON_REFERRER_DEVICE: "odev",
    ReferralMetric.INVITEES_ON_REFERRER_IP: "oip",
    ReferralMetric.SUBTREE: "sub",
    ReferralMetric.INVITEE_REGIONS: "reg",
}


def emit(builder: RequestBuilder, spec: ReferralFeature, index: int) -> None:
    """Add the ops reading ``spec`` (and, once per request, recording the edge)."""
    if spec.metric is ReferralMetric.UNPAID_REFERRAL_HOURS:
        referrer_paid.emit_unpaid(builder, index)  # the customer's own slot, on any event
        return
    if spec.by is Entity.CUSTOMER:
        _emit_own(builder, spec, index)
        return
    located = builder.locate(Entity.REFERRER)  # the referrer's id and tag, once per request
    if located is None:
        return
    tag = located[1]
    batch = builder.batch(tag)
    if not batch.has(f"{tag}:up"):
        _emit_core(builder, batch, tag)
    batch.owned.append(index)
    customer = builder.locate(Entity.CUSTOMER)
    invitee = "" if customer is None else customer[0]
    after = builder.after(spec.window_seconds)
    match spec.metric:
        case ReferralMetric.DEPTH:
            batch.ops.extend(("RD", index))
        case ReferralMetric.RING:
            batch.ops.extend(("RG", index, spec.hops, digest(invitee), digest(referrer_id(builder))))
        case ReferralMetric.PAID_SHARE:
            within = _NO_LIMIT_MS if spec.within_seconds is None else spec.within_seconds * 1000
            inv, paid = batch.key(f"{tag}:rg:inv"), batch.key(f"{tag}:rg:paid")
            void = 0 if spec.count_refunded else batch.key(f"{tag}:rg:void")
            count = builder.plan.share_counts.get(index, 0)
            batch.ops.extend(("PS", index, inv, paid, void, after, _until(builder, spec), within, count))
        case ReferralMetric.SUBTREE_PAID_SHARE:
            within = _NO_LIMIT_MS if spec.within_seconds is None else spec.within_seconds * 1000
            sub, paid = batch.key(f"{tag}:rg:sub"), batch.key(f"{tag}:rg:tpaid")
            batch.ops.extend(("PS", index, sub, paid, 0, after, _until(builder, spec), within, 0))
        case ReferralMetric.SUBTREE_DEPTH:
            batch.ops.extend(("TR", index, batch.key(f"{tag}:rg:tree")))
        case ReferralMetric.REFERRER_PAID:
            batch.ops.extend(("RF", index, batch.key(f"{tag}:rg:me")))
        case ReferralMetric.CHAIN_PAID:
            pass  # read by the RC op that loads the chain (_emit_core)
        case ReferralMetric.OUTSIDE_SHARE:
            out, inv = batch.key(f"{tag}:rg:out"), batch.key(f"{tag}:rg:inv")
            batch.ops.extend(("ZR", index, out, inv, after, _until(builder, spec)))
        case ReferralMetric.REFUNDED_INVITEES | ReferralMetric.REFUND_SHARE:
            referral_refunds.emit_read(builder, batch, tag, spec, index, builder.t_arg)
        case ReferralMetric.DAYS_SINCE_PAID:
            referrer_paid.emit_read(batch, tag, index)
        case ReferralMetric.INVITEES if index in builder.plan.share_counts.values():
            pass  # the paired paid_share op returns this count
        case metric:
            name = _SET_OF[metric]
            if recorded(builder) and any(i == index for i, _ in builder.plan.referral_reads.get(name, ())):
                return  # counted by the op that recorded the edge into that set (_emit_core)
            key = batch.key(f"{tag}:rg:{name}")
            batch.ops.extend(("ZC", index, key, after, _until(builder, spec)))


def _emit_own(builder: RequestBuilder, spec: ReferralFeature, index: int) -> None:
    """``by: customer``: the event customer's own upline, ``d`` its depth or ``k`` payers above it (0: none), or
    its own net-paid mark (``days_since_paid``: the referrer's mark, read on the customer's slot)."""
    tag = builder.customer_tag()
    batch = builder.batch(tag)
    batch.owned.append(index)
    if spec.metric is ReferralMetric.DAYS_SINCE_PAID:
        referrer_paid.emit_read(batch, tag, index)
        return
    batch.ops.extend(("UF", index, batch.key(f"{tag}:up"), "d" if spec.metric is ReferralMetric.DEPTH else "k"))


def recorded(builder: RequestBuilder) -> bool:
    """Whether this request records a referral edge (a recorded referral event)."""
    return builder.record and builder.event.type == "referral"


def _until(builder: RequestBuilder, spec: ReferralFeature) -> str:
    """Inclusive upper score bound: now, or ``older_than`` before it (invitees old enough to have bought)."""
    if spec.older_than_seconds is None:
        return builder.t_arg if spec.metric in _SHARES else "+inf"
    return str(builder.t - spec.older_than_seconds * 1000)


_SHARES = frozenset({ReferralMetric.PAID_SHARE, ReferralMetric.SUBTREE_PAID_SHARE})


def referrer_id(builder: RequestBuilder) -> str:
    return builder.entity_id(Entity.REFERRER, builder.event.referrer) or ""


def _emit_core(builder: RequestBuilder, batch: Batch, tag: str) -> None:
    """Load the referrer's chain; on a referral event record the edge into every set."""
    batch.ops.extend(("RR", batch.key(f"{tag}:up")))
    batch.extras.extend(("chain", "depth", "ids"))
    if builder.plan.chain_paid >= 0:
        batch.ops.extend(("RC", builder.plan.chain_paid, batch.key(f"{tag}:up"), batch.key(f"{tag}:rg:me")))
        batch.extras.append("chain_paid")
    if not builder.record or builder.event.type != "referral":
        return
    event = builder.event
    invitee = builder.entity_id(Entity.CUSTOMER, event.customer)
    members = {
        "inv": invitee,
        "dev": builder.entity_id(Entity.DEVICE, event.device),
        "ip": builder.entity_id(Entity.IP, event.ip),
        "net": builder.entity_id(Entity.SUBNET, _subnet(builder)),
    }
    for name in sorted(builder.plan.referral_sets):
        if name in referral_tree.SETS:
            referral_tree.emit_record(builder, batch, tag, name, invitee or "")
            continue
        window = builder.plan.windows[f"rg:{name}"]
        key = batch.key(f"{tag}:rg:{name}")
        ttl, trim = builder.window_ttl(window), builder.trim(window)
        if name in members:
            # one op records the value and counts every window read up to now (plan.lua DX:
            # its TTL renewed every 30 min, not per referral)
            reads = builder.plan.referral_reads.get(name, ()) if builder.read_values else ()
            windows.distinct_op(builder, batch, key, members[name] or "", window, reads)
            continue
        link_entity = Entity.DEVICE if name == "odev" else Entity.IP
        link_raw = event.device if name == "odev" else event.ip
        link_id = builder.entity_id(link_entity, link_raw)
        if link_id is not None:
            link = f"{'d' if name == 'odev' else 'i'}:{link_id}"
            links = batch.key(f"{tag}:links")
            batch.ops.extend(("RO", links, link, key, invitee or "", ttl, trim))  # fmt: skip
    _emit_upline(builder, batch)


def _subnet(builder: RequestBuilder) -> str | None:
    return ip_subnet(builder.event.ip)


def _emit_upline(builder: RequestBuilder, referrer_batch: Batch) -> None:
    """Write the invitee's upline: in the same script, or in phase 2 on a cluster."""
    if builder.cluster:
        builder.upline_pending = referrer_batch
        return
    batch = builder.batch(builder.customer_tag())
    batch.deferred.extend(upline_op(builder, batch, FROM_REGISTER, 0, ""))


def upline_op(
    builder: RequestBuilder, batch: Batch, chain: str, depth: int, ids: str, paid: int = 0
) -> tuple[str | int, ...]:
    """The RU op writing the invitee's upline below the event's referrer (``ids``: the referrer's upline ids).

    ``paid``: paying customers up the referrer's chain (op RC), kept as the invitee's ``k``.
    """
    key = batch.key(f"{builder.customer_tag()}:up")
    referrer = referrer_id(builder)
    return ("RU", key, referrer, digest(referrer), builder.history_ttl, chain, depth, ids, paid)


def emit_paid(builder: RequestBuilder) -> None:
    """Step 1 of a paid order (or of a refund): ask the payer's slot who referred them (extras ref, at)."""
    tag = builder.customer_tag()
    batch = builder.batch(tag)
    batch.ops.extend(("PU", batch.key(f"{tag}:up")))
    batch.extras.extend(("ref", "at", "ids"))
    if builder.plan.referrer_paid and builder.event.type == "order_paid":
        batch.ops.extend(("PF", batch.key(f"{tag}:rg:me"), builder.history_ttl))


def emit_paid_mark(builder: RequestBuilder, referrer: str, ids: str = "") -> None:
    """Step 2: note the payer's first paid order in its referrer's slot and its ancestors' subtrees."""
    referral_tree.emit_paid_marks(builder, ids)
    tag = builder.tag_of(Entity.REFERRER, referrer)
    batch = builder.batch(tag)
    payer = builder.entity_id(Entity.CUSTOMER, builder.event.customer) or ""
    batch.ops.extend(("PM", batch.key(f"{tag}:rg:paid"), payer, builder.history_ttl, batch.key(f"{tag}:rg:void")))
