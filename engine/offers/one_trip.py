"""Reserve an event's offers in the round trip of the writes that follow, when every reservation grants.

Why: the reservation's reply decides the answer (granted or refused, the units left), and
the writes after the decision carry that answer (kept for retries) and the grants'
history, so a scored event with an eligible offer paid a round trip for the reservation
alone. Most reservations grant a fresh unit, and then everything the writes hold is known
before the reply but the units left. So the API sends, in one composite script
(engine/datastore/compose.py): the first round's reservation calls, a gate that stops the
script unless each one answered what a fresh unit answers (:func:`_expected`), then the
writes built for that outcome, the kept answer's ``remaining`` filled in by the script
from the replies. When a reservation answers anything else (a spent budget, a cap, an
event id taken, an error), the gate stops the script before any write: the ledger goes on
from those replies as it always did (the next offer of a refused group, :meth:`grant` with
``first``), and the writes go in a round trip of their own, built from the real outcome.

A hold's or a reservation's answer is known too: its id is the offer's and the event's,
its end is the event's time plus the offer's period, which the reservation only echoes.
Each speculated grant is what the ledger's own reply parser makes of the reply expected
(the units left a marker), and the real reply's grant must equal it but for those units.
On a cluster the reservations live in the offers' slots, the writes in the customer's:
they keep their own round trips there.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from engine.datastore.batches import Command, ScriptCall
from engine.events import Event
from engine.model import Offer
from engine.offers.ledger import OfferLedger, _parse_reserve, _unmetered_tally, rank_groups
from engine.offers.periods import Periods
from engine.offers.results import Grant

#: Speculative grants carry a marker for the units left: a negative number no budget reaches, random per
#: request (a caller cannot plant it in its own fields), found once in the kept answer and filled by the script.
_MARKER_BASE = 10**17


@dataclass(frozen=True, slots=True)
class Speculation:
    """The first round's calls, the grants they give if each grants, and the writes recording those grants."""

    calls: list[ScriptCall]
    patterns: list[str]  # the Lua pattern each call's reply must match (the gate: compose.EXPECT)
    offers: list[Offer]  # the offer of each call
    grants: list[Grant]  # every group's grant, ``remaining_total`` of the reserved ones a marker
    records: list[ScriptCall | Command]
    markers: list[int]  # the marker of each call's grant


def speculate(
    ledger: OfferLedger,
    *,
    tenant: str,
    event: Event,
    evaluation_offers: Sequence[Offer],
    zone: ZoneInfo,
    stacked: frozenset[str] = frozenset(),
    now: float | None = None,
) -> Speculation | None:
    """The speculation for these offers, or None when it cannot be one round (holds, fall-backs, nothing to reserve)."""
    groups = rank_groups(evaluation_offers, stacked=stacked, keep_order=True)
    day = Periods.of(event.timestamp.astimezone(zone))
    calls: list[ScriptCall] = []
    offers: list[Offer] = []
    grants: list[Grant] = []
    markers: list[int] = []
    patterns: list[str] = []
    base = _MARKER_BASE + secrets.randbelow(10**15) * 64
    for group in groups:
        offer = group[0]
        planned = ledger._plan(tenant, event, offer, day, now)  # the ledger's own first round
        if isinstance(planned, Grant):
            if not planned.granted and len(group) > 1:
                return None  # the group's next offer is tried in a round of its own
            grants.append(planned)
            continue
        if len(calls) >= 64:
            return None
        marker = -(base + len(calls))
        expected, pattern = _expected(offer, event)
        calls.append(planned)
        offers.append(offer)
        markers.append(marker)
        patterns.append(pattern)
        grants.append(_parse_reserve(offer, event, expected.replace("{remaining}", str(marker))))
    if not calls:
        return None
    by_id = {o.id: o for o in evaluation_offers}
    records = ledger._record_calls(tenant, event, grants, ledger.experiments.grant_calls(tenant, grants, by_id))
    records += _unmetered_tally(tenant, grants, by_id, day)
    return Speculation(calls, patterns, offers, grants, records, markers)


def _expected(offer: Offer, event: Event) -> tuple[str, str]:
    """The reply of a fresh unit of ``offer`` (units left as ``{remaining}``), and the Lua pattern matching it.

    As the ledger plans it (``OfferLedger._plan``): a hold ends at the event's time plus its
    period, a reservation at the event's time plus its ttl; RESERVE answers that end as sent.
    """
    if offer.hold is not None:
        status, end = "held", repr(event.epoch + offer.hold.seconds)
    elif offer.reserve is not None:
        status, end = "reserved", repr(event.epoch + offer.reserve.ttl_seconds)
    else:
        status, end = "granted", ""
    return f"{status}|{{remaining}}|{end}|1", f"^{status}|%-?%d*|{_lua_literal(end)}|1$"


def _lua_literal(text: str) -> str:
    """``text`` as a Lua pattern matching itself."""
    return "".join(f"%{c}" if c in "^$()%.[]*+-?" else c for c in text)


def settled(speculation: Speculation, event: Event, replies: Sequence[object]) -> list[Grant] | None:
    """The grants as reserved when every reply is the one speculated (then the gate let the writes run), else None."""
    real: dict[int, Grant] = {}
    for offer, marker, reply in zip(speculation.offers, speculation.markers, replies, strict=True):
        if not isinstance(reply, bytes | str):
            return None
        parsed = _parse_reserve(offer, event, reply.decode() if isinstance(reply, bytes) else reply)
        if not parsed.fresh or replace(parsed, remaining_total=marker) != _reserved(speculation, marker):
            return None
        real[marker] = parsed
    return [real.get(g.remaining_total, g) if g.remaining_total is not None else g for g in speculation.grants]


def _reserved(speculation: Speculation, marker: int) -> Grant:
    return next(g for g in speculation.grants if g.remaining_total == marker)
