"""Replay's in-memory grants written where the link metric ``rewards`` reads the live ledger's.

Live, the offer ledger records every grant (held or not) in its beneficiary's slot,
``{C}:of:grants`` (engine/offers/ledger.py), and op LM counts the linked members' grants
there ("another account of this household already took a reward"). Replay applies
offers in memory (engine/replay/offers.py), so that zset stayed empty and the feature
read 0 for every household. The judge now reports the new set's grants and the
replayer writes each one into the replay store, the ledger's key, the event's time as
its score and a member naming the offer and event (one grant is one member, as live).

Accuracy: the grants reach Redis after their batch is judged, so the events of the next
one or two batches (64 events each, minutes of log time) do not see them yet; live, the
grant is written before the next request is read. Only the new set's grants are written
(a baseline pack has its own budget but shares the one store).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from engine.datastore.keys import CustomerKeys
from engine.replay.judge import GrantNote


def grant_commands(tenant: str, notes: Iterable[GrantNote]) -> list[tuple[str, ...]]:
    """One ZADD per grant into its beneficiary's ``of:grants``, scored by the event's time in seconds.

    Each also deletes the beneficiary's link summary (``lk:s``, engine/features/links.py), whose copy of
    the grants would lag, as the live ledger's RECORD does.
    """
    out: list[tuple[str, ...]] = []
    for beneficiary, offer, event_id, epoch in notes:
        keys = CustomerKeys(tenant, beneficiary)
        out.append(("ZADD", keys.grants, repr(epoch), _member(offer, event_id)))
        out.append(("DEL", keys.link_summary))
    return out


def _member(offer: str, event_id: str) -> str:
    return json.dumps({"e": event_id, "o": offer, "s": "replayed"}, separators=(",", ":"), sort_keys=True)
