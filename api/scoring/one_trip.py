"""/v1/score's offers and writes in one round trip, when every reservation grants (engine/offers/one_trip.py).

The answer is rendered for the speculated outcome (each first choice granted, its units
left a marker), its writes built from it (grant history, case, recent decisions, the
dashboard's counters, the claim marked done with the answer, the units left filled in
by the script), and all of it goes after the reservations in one composite script whose
gate stops before any write unless each reservation granted a fresh unit. Then the
answer is rendered again from the real replies: the same bytes as the kept one, the
markers replaced by the units left. Otherwise (:class:`Fallback`) the ledger goes on
from the replies and the caller sends the writes as before, in a round trip of its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from api.cases.opening import opening_for
from api.claims import Fingerprint
from api.runtime import Runtime
from api.scoring.extras import price_offers
from api.scoring.render import render_grants
from api.services import encode
from engine.datastore.compose import EXPECT, SET_FILLED, Stopped
from engine.datastore.scripts import Call, is_cluster
from engine.errors import StoreUnavailable
from engine.evaluation import Evaluation
from engine.events import Event
from engine.model import Offer
from engine.offers.one_trip import settled as settled_grants
from engine.offers.one_trip import speculate
from engine.offers.results import Grant
from engine.rule_engine import LoadedRuleSet


@dataclass(frozen=True, slots=True)
class Fallback:
    """A reservation did not grant as speculated: the first round's replies, for the ledger to go on from.

    None: the round trip failed, the ledger starts over (its reservations are idempotent by event id).
    """

    first: list[Any] | None


@dataclass(frozen=True, slots=True)
class Kept:
    """The offers granted and the writes sent in one round trip: the grants, the answer kept, the writes' replies."""

    grants: list[Grant]
    payload: bytes
    replies: list[Any] | None


async def grant_and_keep(
    runtime: Runtime,
    tenant: str,
    event: Event,
    loaded: LoadedRuleSet,
    evaluation: Evaluation,
    body: dict[str, Any],
    writes: list[Any],
    eligible: Sequence[Offer],
    held_back: Mapping[str, str],
    fingerprint: Fingerprint,
) -> Kept | Fallback | None:
    """Grant ``eligible`` and send the writes in one round trip; None when it cannot be one (the caller's path)."""
    services = runtime.services
    if not eligible or is_cluster(services.client):
        return None
    zone, stacked = loaded.evaluator.zone, loaded.evaluator.stacked
    speculation = speculate(services.ledger, tenant=tenant, event=event, evaluation_offers=eligible, zone=zone,
                            stacked=stacked, now=time.time())  # fmt: skip
    if speculation is None:
        return None
    offers = {o.id: o for o in loaded.ruleset.offers}
    speculated = {**body, "offers": [], "withheld": list(body["withheld"])}
    render_grants(speculated, speculation.grants, offers)
    price_offers(speculated, loaded, event)
    pieces = _pieces(encode(speculated), speculation.markers)
    if pieces is None:
        return None
    sent = [*writes, *speculation.records]
    opening = opening_for(loaded, event, evaluation, speculated)
    if opening is not None:
        sent.append(services.cases.open_call(tenant, opening))
    sent += services.decision_calls(tenant=tenant, event=event, body=speculated)
    sent += services.protection.calls(tenant=tenant, ruleset=loaded.ruleset, event=event, body=speculated)
    sent.append(services.claims.complete_filled_call(tenant=tenant, event=event, fingerprint=fingerprint,
                                                      pieces=pieces, script=SET_FILLED))  # fmt: skip
    expect = Call(EXPECT, [], [a for place, p in enumerate(speculation.patterns, start=1) for a in (place, p)])
    try:
        first, replies = await runtime.guard.call("offers", services.writes.send_after(speculation.calls, expect, sent))
    except Stopped as stopped:
        return Fallback(list(stopped.reply))
    except StoreUnavailable:
        # Nothing ran (a refused script), or it is unknown what ran (the connection lost, which opens the
        # breaker): the caller's path reserves again, idempotent by event id (a unit reserved here is answered,
        # not spent twice), then sends its writes, and answers degraded as it always did if Redis stays away.
        return Fallback(None)
    grants = settled_grants(speculation, event, first)
    assert grants is not None, "the gate let the writes run, so every reservation granted as speculated"
    if opening is not None:
        runtime.metrics.cases_opened.inc()
    markers = set(speculation.markers)
    left = {s.remaining_total: g.remaining_total for s, g in zip(speculation.grants, grants, strict=True)
            if s.remaining_total in markers}  # fmt: skip
    for granted in speculated["offers"]:  # the answer as rendered, its markers replaced: what the script kept
        if granted["remaining"] in left:
            granted["remaining"] = left[granted["remaining"]]
    body.update(speculated)
    filled = (b"null" if left[m] is None else str(left[m]).encode() for m in speculation.markers)
    payload = b"".join(p if isinstance(p, bytes) else next(filled) for p in pieces)
    return Kept(grants, payload, replies)


def _pieces(template: bytes, markers: Sequence[int]) -> list[bytes | str] | None:
    """The kept answer as pieces and references to the replies' units left; None unless each marker is once in it."""
    pieces: list[bytes | str] = []
    rest = template
    for place, marker in enumerate(markers, start=1):
        text = str(marker).encode()
        if template.count(text) != 1:
            return None
        head, found, rest = rest.partition(text)
        if not found:  # not in the order of the calls
            return None
        pieces += [head, f"{place}:2"]
    pieces.append(rest)
    return pieces
