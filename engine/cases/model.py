"""A review case as read from Redis: what waits for a person, and what a decision did."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.datastore.batches import text

UNDECIDED = frozenset({"open", "escalated"})
STATES = ("open", "escalated", "approved", "denied")
DECISIONS = ("approve", "deny", "escalate")


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    actor: str
    customer: str
    state: str
    opened_at: datetime
    deadline: datetime
    updated_at: datetime
    score: int
    value: float  # yuan at stake in the offers its events withheld
    tier: str
    events: int
    reasons: tuple[str, ...]
    overdue: bool = False
    claimed_by: str | None = None
    lease_until: datetime | None = None
    decision: str | None = None
    note: str = ""
    decided_at: datetime | None = None
    decided_by: str | None = None
    decided_role: str | None = None
    decided_via: str | None = None  # reviewer | timeout
    result: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def undecided(self) -> bool:
        return self.state in UNDECIDED

    def age_seconds(self, now: datetime) -> float:
        return max((now - self.opened_at).total_seconds(), 0.0)

    def claim_live(self, now: datetime) -> bool:
        return self.claimed_by is not None and self.lease_until is not None and self.lease_until > now

    def as_dict(self, now: datetime) -> dict[str, Any]:
        live = self.claim_live(now)
        return {
            "id": self.id,
            "actor": self.actor,
            "customer": self.customer,
            "state": self.state,
            "opened_at": self.opened_at.isoformat(),
            "deadline": self.deadline.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "age_seconds": round(self.age_seconds(now), 3),
            "overdue": self.overdue or (self.undecided and self.deadline <= now),
            "score": self.score,
            "value_at_stake": round(self.value, 2),
            "tier": self.tier,
            "event_count": self.events,
            "reasons": list(self.reasons),
            "claimed_by": self.claimed_by if live else None,
            "lease_until": self.lease_until.isoformat() if live and self.lease_until else None,
            "decision": self.decision,
            "note": self.note,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decided_by": self.decided_by,
            "decided_role": self.decided_role,
            "decided_via": self.decided_via,
            "result": self.result,
        }


def parse_case(raw: dict[Any, Any]) -> Case | None:
    """A case from its hash (HGETALL), None when it does not exist."""
    h = {text(k): text(v) for k, v in raw.items()}
    if "id" not in h:
        return None
    return Case(
        id=h["id"],
        actor=h["actor"],
        customer=h["customer"],
        state=h["state"],
        opened_at=_when(h["opened_at"]),
        deadline=_when(h["deadline"]),
        updated_at=_when(h.get("updated_at", h["opened_at"])),
        score=int(float(h.get("score", "0"))),
        value=float(h.get("value", "0")),
        tier=h.get("tier", ""),
        events=int(h.get("events", "0")),
        reasons=tuple(r for r in h.get("reasons", "").split(",") if r),
        overdue=h.get("overdue") == "1",
        claimed_by=h.get("claimed_by"),
        lease_until=_when(h["lease_until"]) if h.get("lease_until") else None,
        decision=h.get("decision"),
        note=h.get("note", ""),
        decided_at=_when(h["decided_at"]) if h.get("decided_at") else None,
        decided_by=h.get("decided_by"),
        decided_role=h.get("decided_role"),
        decided_via=h.get("decided_via"),
        result=json.loads(h["result"]) if h.get("result") else None,
    )


def _when(epoch: str) -> datetime:
    return datetime.fromtimestamp(float(epoch), UTC)
