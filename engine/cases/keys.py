"""Where a tenant's cases live in Redis, and who a case is about.

Every key of a tenant's review queue is ``yt:{<tenant>:cases}:...``: one hash tag, so
each script (open or join, claim, decide) touches one slot and runs atomically on one
Redis or a cluster. The queue is written by people's decisions and by ``review``
decisions, far fewer than scored events, so one slot per tenant is no hot spot.

- ``:case:<id>``           hash: the case (state, actor, times, score, value, claim, decision)
- ``:case:<id>:events``    hash: event id -> the event's JSON (reasons, values, withheld offers)
- ``:case:<id>:order``     zset: event id -> its time
- ``:case:<id>:reasons``   set: rule ids of every joined event
- ``:case:<id>:log``       list: the audit trail of the case (claims, decisions, timeouts)
- ``:actors``              hash: actor -> id of its undecided case (one case per actor)
- ``:all``                 zset: every case id -> opening time (what the queue lists)
- ``:open``                zset: undecided case id -> opening time (queue size and age)
- ``:due``                 zset: undecided case id -> deadline (what the worker times out)
- ``:acting``              zset: decided case id whose actions are not finished -> decision time
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from engine.datastore.keys import PREFIX, safe_id

#: The actor a case is about: today a customer. When linked groups exist (the
#: linked-account features), an actor becomes ``group:<id>`` and every account of the
#: group joins one case: only :func:`actor_of` changes.
CUSTOMER_ACTOR = "customer:"


def actor_of(customer: str, group: str | None = None) -> str:
    """The actor whose open case an event of ``customer`` joins."""
    return f"group:{group}" if group else f"{CUSTOMER_ACTOR}{customer}"


def case_id_for(actor: str, event_id: str) -> str:
    """A new case's id: derived from its first event, so a retried opening names the same case."""
    return "c_" + hashlib.blake2b(f"{actor}\x00{event_id}".encode(), digest_size=9).hexdigest()


@dataclass(frozen=True, slots=True)
class CaseKeys:
    tenant: str

    @property
    def base(self) -> str:
        return f"{PREFIX}:{{{safe_id(self.tenant)}:cases}}"

    def case(self, case_id: str) -> str:
        return f"{self.base}:case:{case_id}"

    def events(self, case_id: str) -> str:
        return f"{self.base}:case:{case_id}:events"

    def order(self, case_id: str) -> str:
        return f"{self.base}:case:{case_id}:order"

    def reasons(self, case_id: str) -> str:
        return f"{self.base}:case:{case_id}:reasons"

    def log(self, case_id: str) -> str:
        return f"{self.base}:case:{case_id}:log"

    @property
    def actors(self) -> str:
        return f"{self.base}:actors"

    @property
    def all(self) -> str:
        return f"{self.base}:all"

    @property
    def open(self) -> str:
        return f"{self.base}:open"

    @property
    def due(self) -> str:
        return f"{self.base}:due"

    @property
    def acting(self) -> str:
        return f"{self.base}:acting"
