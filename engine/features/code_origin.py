"""A code's learned origin: who a coupon code belongs to, learned from who redeems it.

Code resale (DOMAIN.md, "How farms work"): a code handed out in a parents' group or a
partner class is sold on a second-hand platform (闲鱼) to strangers, one buyer at a time,
over hours or days; each buyer is on their own phone, most sign up minutes before they
redeem. ``coupon_bindings`` (bindings.py) catch it for the codes the pack binds; this
catches it for the others, without a declaration per code.

**Series.** A code minted per member (``QUN09-7F3K``, ``QUN09-8H2M``) is one series with
its head (``QUN09-``: the code up to and including its last ``-`` or ``_``, when the head has
two characters or more before it); a code without a separator is a series of its own.

**Anchors** of a customer, read in its own slot (op OA): ``u:<itself>``, ``u:<its first
referrer>`` (``up``), ``g:<group>`` for each group it is a member of (``aff``: relayed
``member_joined`` minus ``member_left``), ``u:<peer>`` for its newest 16 linked accounts
within 30 days (``lk:peers``, when the pack has link features). It has **history** when it was
first seen a week or more before the event (``lk:f``) or has paid. The group the event itself
names (the storefront opened the redemption from that group's link) is kept apart: it is relayed
from the client, so it never makes a redeemer a teacher, but it ties and anchors it when the origin
holds that group, and a tied or vouched redeemer teaches it: a group whose joins the store never
relays is learned from its members' redemptions, and its new parents are neither untied nor the
code's strangers (without it, 1709 reviewed 168-259 honest redemptions per held-out rongcheng
log, session 14). The cost: a buyer told the code's group who names it passes
(tests/api/test_redteam_session14.py, a strict xfail; SECURITY.md).

**Origin** of a series (op OC, ``{<tenant>:cpn:<series>}:og``, a sorted set of anchors by
their latest time): every redemption by a customer that is tied to it, has history, or is
vouched for (referred, in a group, or linked) adds its anchors and ``t:<itself>`` (a
teacher). A stranger (no referrer, no group, no link, first seen this week, never paid) adds
nothing. Newest 128 members, 30 days (+1 h), so memory per series is bounded.

**Features** (read before the event teaches, so a redemption never vouches for itself):
- ``customer.tied_to_code_origin``: the customer has history, or one of its anchors is in
  the series' origin within 30 days: a member of the group the code was used in, referred
  by or linked to an account that used it, referred by the same teacher as they were.
- ``coupon.origin_members_30d``: teachers of the series' origin in the window, 0 for a
  series no tied account has used (a code first redeemed by strangers has no origin).
Both missing without a coupon (or on an event that is not scored).

What it trusts and refuses: membership is never taken from the event, and the group it names
ties and anchors only when the code's own origin holds that group, so a caller who names the
right group on a bought code passes 1709 and 1711 (as it could open the group's link). A
seller who refers his buyers vouches for them, and they for each other; the referral rules read
his tree. An existing customer who buys a code has history and is tied (a loss accepted: the
merchant keeps a customer's order).

**Cost.** One op in the customer's slot (an HGET, a ZRANGE of ``aff``, a ZREVRANGEBYSCORE of
``lk:peers``, an HMGET of ``lk:f``) and one in the series' slot (a ZRANGEBYSCORE, and a ZADD,
ZREMRANGEBYRANK and PEXPIRE when the event teaches), in the request's script on one server:
no round trip. On a cluster each op rides in its slot's call of round 1, the worker decides
from their answers, and a teaching write goes into the phase 2 the cluster already runs
(store.py, ``_complete_on_cluster``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.datastore.keys import safe_id
from engine.events import SCORED_TYPES
from engine.features import bindings
from engine.features.builder import Batch, RequestBuilder
from engine.features.spec import BindingFeature, CodeOriginFeature, Entity, FeatureSpec, OriginMetric

ORIGIN_CAP = 128  # newest anchors kept per series
PEER_CAP = 16  # newest linked accounts read as anchors
PEER_WINDOW_MS = 30 * 86_400_000
# first seen a week before: a customer, not a stranger who signed up to redeem (and orders with the
# code a day or two later: a listing's buyer that buys the trial is a day old at its checkout)
HISTORY_MS = 7 * 86_400_000
_SEPARATORS = "-_"
ANCHORS, ORIGIN, STRANGERS = "og:a", "og:o", "og:s"  # the extras of ops OA / OC on a cluster
STRANGER_CAP = 64  # newest strangers kept per series
STRANGERS_WINDOW_S = 7 * 86_400


def series(code: str) -> str:
    """The series a (canonical) code belongs to: its head up to the last ``-`` or ``_``, else the code."""
    cut = max(code.rfind(sep) for sep in _SEPARATORS)
    return code[: cut + 1] if cut >= 2 and cut < len(code) - 1 else code


def fed_by(event_type: str) -> bool:
    """Scored events redeem a code; joins and leaves make the group memberships it reads (bindings.py)."""
    return event_type in SCORED_TYPES or event_type in (bindings.JOINED, bindings.LEFT)


def indexes(specs: Sequence[FeatureSpec]) -> tuple[int, int, int, int]:
    """The value indices (1-based, 0 when absent) of the tied, members, anchored and strangers specs."""
    found = dict.fromkeys(OriginMetric, 0)
    for index, spec in enumerate(specs, start=1):
        if isinstance(spec, CodeOriginFeature) and not found[spec.metric]:
            found[spec.metric] = index
    return (
        found[OriginMetric.TIED], found[OriginMetric.MEMBERS], found[OriginMetric.ANCHORED],
        found[OriginMetric.STRANGERS],
    )  # fmt: skip


def _origin_spec(specs: Sequence[FeatureSpec]) -> CodeOriginFeature:
    """The spec whose window is the origin's: members' (30 days), else tied's or anchored's."""
    found = [s for s in specs if isinstance(s, CodeOriginFeature)]
    return next((s for s in found if s.metric is not OriginMetric.STRANGERS), found[0])


def _strangers_window(specs: Sequence[FeatureSpec]) -> int:
    found = [s for s in specs if isinstance(s, CodeOriginFeature) and s.metric is OriginMetric.STRANGERS]
    return found[0].window_seconds if found else STRANGERS_WINDOW_S


def _origin_key(builder: RequestBuilder, code: str) -> tuple[str, str]:
    name = safe_id(series(code))
    tag = builder.tag_of(Entity.COUPON, name)
    return tag, f"{tag}:og"


def _strangers_key(okey: str) -> str:
    return f"{okey}:s"


def emit(builder: RequestBuilder, spec: CodeOriginFeature, index: int) -> None:
    """Read the customer's anchors and the code's origin; teach the origin (one op per request for both specs)."""
    event = builder.event
    tied, members, anchored, strangers = indexes(builder.plan.specs)
    if index != min(i for i in (tied, members, anchored, strangers) if i):
        return
    if not any(isinstance(s, BindingFeature) for s in builder.plan.specs):  # else bindings.emit records them
        bindings.record_memberships(builder)
    if event.coupon is None or event.type not in SCORED_TYPES or not builder.read_values:
        return
    me = builder.entity_id(Entity.CUSTOMER, event.customer) or ""
    ctag = builder.customer_tag()
    cbatch = builder.batch(ctag)
    group = _group_token(event.group)
    cbatch.ops.extend((
        "OA", cbatch.key(f"{ctag}:aff"), cbatch.key(f"{ctag}:up"), cbatch.key(f"{ctag}:lk:peers"),
        cbatch.key(f"{ctag}:lk:f"), f"({builder.t - PEER_WINDOW_MS}", PEER_CAP, builder.t - HISTORY_MS, me, group,
        1 if builder.cluster else 0,
    ))  # fmt: skip
    otag, okey = _origin_key(builder, event.coupon)
    obatch = builder.batch(otag)
    window_s = _origin_spec(builder.plan.specs).window_seconds
    strangers_s = _strangers_window(builder.plan.specs)
    obatch.ops.extend((
        "OC", tied, members, obatch.key(okey), builder.after(window_s), builder.window_ttl(window_s * 1000),
        ORIGIN_CAP, 1 if builder.record else 0, 0 if builder.cluster else 1,
        anchored, strangers, obatch.key(_strangers_key(okey)), builder.after(strangers_s),
        builder.window_ttl(strangers_s * 1000), STRANGER_CAP,
    ))  # fmt: skip
    if builder.cluster:
        cbatch.extras.append(ANCHORS)
        obatch.extras.extend((ORIGIN, STRANGERS))
    else:
        obatch.owned.extend(i for i in (tied, members, anchored, strangers) if i)


def decide(anchors: str, origin: Sequence[str], group: str = "") -> tuple[bool, int, bool, list[str], bool]:
    """Tied, teachers, whether the event teaches, its tokens, anchored: op OC's decision, for a cluster's worker.

    ``anchors``: op OA's extra, ``H`` or ``-`` (history), ``V`` or ``-`` (vouched for), then the
    anchors separated by spaces, the customer's own ``u:`` first (its own earlier redemption
    taught it, so ``anchored`` reads the others); ``group``: the event's ``g:<group>`` or ``""``.
    """
    history, vouched = anchors[:1] == "H", anchors[1:2] == "V"
    mine = anchors[2:].split(" ") if len(anchors) > 2 else []
    have = set(origin)
    teachers = sum(1 for member in have if member.startswith("t:"))
    tied = history or any(a in have for a in mine)
    grouped = bool(group) and group in have
    anchored = grouped or any(a in have for a in mine[1:])
    tokens = [*mine, *([group] if group else []), "t:" + mine[0][2:]] if mine else []
    return tied or grouped, teachers, tied or vouched, tokens, anchored


def settle(builder: RequestBuilder, batches: list[Batch], results: list[Any], raw: list[Any]) -> list[Batch]:
    """Cluster: fill the values from round 1's answers; the teaching write for phase 2 (a batch, or none)."""
    anchors: str | None = None
    origin: list[str] | None = None
    strangers = 0
    for batch, result in zip(batches, results, strict=True):
        names = batch.extras + batch.deferred_extras if batch.deferred_extras else batch.extras
        if ANCHORS in names:
            anchors = _text(result[2 + names.index(ANCHORS)])
        if ORIGIN in names:
            origin = [_text(m) for m in (result[2 + names.index(ORIGIN)] or [])]
        if STRANGERS in names:
            strangers = int(result[2 + names.index(STRANGERS)] or 0)
    if anchors is None or origin is None:
        return []
    event = builder.event
    tied_index, members_index, anchored_index, strangers_index = indexes(builder.plan.specs)
    tied, teachers, teaches, tokens, anchored = decide(anchors, origin, _group_token(event.group))
    if tied_index:
        raw[tied_index - 1] = tied
    if members_index:
        raw[members_index - 1] = teachers
    if anchored_index:
        raw[anchored_index - 1] = anchored
    if strangers_index:
        raw[strangers_index - 1] = strangers
    if not builder.record or not tokens or event.coupon is None:
        return []
    otag, okey = _origin_key(builder, event.coupon)
    batch = Batch(tag=otag)
    if teaches:
        ttl = builder.window_ttl(_origin_spec(builder.plan.specs).window_seconds * 1000)
        batch.ops.extend(("OW", batch.key(okey), ttl, ORIGIN_CAP, len(tokens), *tokens))
    elif strangers_index and not anchored:  # a stranger (not even its group named): remembered, taught nothing
        ttl = builder.window_ttl(_strangers_window(builder.plan.specs) * 1000)
        batch.ops.extend(("OW", batch.key(_strangers_key(okey)), ttl, STRANGER_CAP, 1, tokens[0]))
    else:
        return []
    return [batch]


def _group_token(group: str | None) -> str:
    """The event's group as an origin member (``g:<group>``), ``""`` without one."""
    return "" if group is None else f"g:{safe_id(group)}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
