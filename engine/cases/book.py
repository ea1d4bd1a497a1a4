"""The review queue of every tenant in Redis: open or join, read, list, claim, decide.

The authority on a case is its hash; every change is one script (engine.cases.scripts),
so the queue never holds two undecided cases for one actor, two live leases on one
case, or two decisions. Listing reads the newest ``MAX_SCAN`` cases and filters and
sorts them here: a review queue holds hundreds of cases, not millions, and a reviewer
wants any order (age, score, value) without an index per order.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.cases.keys import CaseKeys
from engine.cases.model import UNDECIDED, Case, parse_case
from engine.cases.scripts import CLAIM, DECIDE, FINISH, OPEN
from engine.datastore.batches import Command, ScriptCall, run_batch, text

MAX_SCAN = 2000
MAX_EVENTS = 100  # newest events kept per case (the count goes on)
SORTS = ("age", "score", "value")


@dataclass(frozen=True, slots=True)
class Opening:
    """One ``review`` event for the queue: whom it is about and what it withheld."""

    actor: str
    customer: str
    case_id: str  # the id a new case gets
    event_id: str
    at: float
    deadline: float
    score: int
    value: float
    tier: str
    reasons: Sequence[str]
    record: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Step:
    """What a claim or decision script answered."""

    status: str  # ok | replay | conflict | taken | decided | missing
    state: str = ""
    holder: str = ""
    until: float | None = None


@dataclass(frozen=True, slots=True)
class Filters:
    state: str | None = None  # a state, or "undecided"
    reason: str | None = None
    tier: str | None = None
    min_value: float | None = None
    customer: str | None = None

    def keep(self, case: Case) -> bool:
        if self.state == "undecided":
            if not case.undecided:
                return False
        elif self.state is not None and case.state != self.state:
            return False
        if self.reason is not None and self.reason not in case.reasons:
            return False
        if self.tier is not None and case.tier != self.tier:
            return False
        if self.min_value is not None and case.value < self.min_value:
            return False
        return self.customer is None or case.customer == self.customer


class CaseBook:
    """Cases of every tenant, on a ``redis.asyncio`` client or cluster client."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._open = client.register_script(OPEN)
        self._claim = client.register_script(CLAIM)
        self._decide = client.register_script(DECIDE)
        self._finish = client.register_script(FINISH)

    def open_call(self, tenant: str, opening: Opening) -> ScriptCall:
        """The script call opening or joining a case; sent by the caller with its other writes."""
        keys = CaseKeys(tenant)
        record = json.dumps(opening.record, ensure_ascii=False, separators=(",", ":"), default=str)
        args: list[Any] = [
            keys.base, opening.actor, opening.case_id, opening.customer, opening.event_id, repr(opening.at),
            repr(opening.deadline), opening.score, repr(opening.value), opening.tier, record, MAX_EVENTS,
            *sorted(set(opening.reasons)),
        ]  # fmt: skip
        return (self._open, [keys.actors, keys.all, keys.open, keys.due], args)

    async def open(self, tenant: str, opening: Opening) -> tuple[str, bool, bool]:
        """(case id, opened, joined) for one opening sent on its own."""
        reply = (await run_batch(self.client, [self.open_call(tenant, opening)]))[0]
        return text(reply[0]), bool(int(reply[1])), bool(int(reply[2]))

    async def get(self, tenant: str, case_id: str) -> Case | None:
        return parse_case((await run_batch(self.client, [("HGETALL", CaseKeys(tenant).case(case_id))]))[0] or {})

    async def details(self, tenant: str, case_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The case's events (oldest first) and its audit trail."""
        keys = CaseKeys(tenant)
        calls: list[ScriptCall | Command] = [
            ("ZRANGE", keys.order(case_id), 0, -1),
            ("HGETALL", keys.events(case_id)),
            ("LRANGE", keys.log(case_id), 0, -1),
        ]
        order, events, log = await run_batch(self.client, calls)
        by_id = {text(k): json.loads(text(v)) for k, v in (events or {}).items()}
        ordered = [by_id[text(e)] for e in order if text(e) in by_id]
        return ordered, [json.loads(text(entry)) for entry in log]

    async def page(
        self, tenant: str, *, filters: Filters, sort: str = "age", limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Case], str | None]:
        """One page of cases in ``sort`` order (age: oldest first; score, value: highest first)."""
        ids = await run_batch(self.client, [("ZREVRANGE", CaseKeys(tenant).all, 0, MAX_SCAN - 1)])
        cases = await self.many(tenant, [text(i) for i in ids[0]])
        kept = sorted((c for c in cases if filters.keep(c)), key=lambda c: _sort_key(c, sort))
        if cursor is not None:
            after = decode_cursor(cursor)
            kept = [c for c in kept if _sort_key(c, sort) > after]
        page = kept[:limit]
        more = len(kept) > limit
        return page, encode_cursor(_sort_key(page[-1], sort)) if more and page else None

    async def many(self, tenant: str, ids: Sequence[str]) -> list[Case]:
        keys = CaseKeys(tenant)
        rows = await run_batch(self.client, [("HGETALL", keys.case(i)) for i in ids])
        return [c for c in (parse_case(r or {}) for r in rows) if c is not None]

    async def claim(self, tenant: str, case_id: str, *, reviewer: str, now: datetime, lease_s: int) -> Step:
        keys = CaseKeys(tenant)
        until = now.timestamp() + lease_s
        entry = _log("claim", reviewer, now, until=until)
        args = [reviewer, repr(now.timestamp()), repr(until), entry]
        reply = (await run_batch(self.client, [(self._claim, [keys.case(case_id), keys.log(case_id)], args)]))[0]
        status = text(reply[0])
        if status == "ok":
            return Step("ok", until=float(text(reply[1])))
        if status == "taken":
            return Step("taken", holder=text(reply[1]), until=float(text(reply[2])))
        return Step(status, state=text(reply[1]) if len(reply) > 1 else "")

    async def decide(
        self, tenant: str, case_id: str, *, reviewer: str, decision: str, note: str, role: str, via: str, now: datetime
    ) -> Step:
        """Move the case once (see DECIDE); the caller then runs the decision's actions and ``finish``."""
        keys = CaseKeys(tenant)
        entry = _log(decision, reviewer, now, note=note, role=role, via=via)
        args = [reviewer, decision, note, repr(now.timestamp()), role, via, entry]
        case_keys = [keys.case(case_id), keys.log(case_id), keys.actors, keys.open, keys.due, keys.acting]
        reply = (await run_batch(self.client, [(self._decide, case_keys, args)]))[0]
        return Step(text(reply[0]), state=text(reply[1]), holder=text(reply[2]))

    async def finish(self, tenant: str, case_id: str, result: dict[str, Any]) -> None:
        keys = CaseKeys(tenant)
        body = json.dumps(result, ensure_ascii=False, separators=(",", ":"), default=str)
        await run_batch(self.client, [(self._finish, [keys.case(case_id), keys.acting], [body, case_id])])

    async def due(self, tenant: str, now: datetime, limit: int = 100) -> list[str]:
        """Undecided cases past their deadline that no timeout has handled yet."""
        reply = await run_batch(self.client, [("ZRANGEBYSCORE", CaseKeys(tenant).due, "-inf", repr(now.timestamp()),
                                               "LIMIT", 0, limit)])  # fmt: skip
        return [text(i) for i in reply[0]]

    async def unfinished(self, tenant: str, before: datetime, limit: int = 100) -> list[str]:
        """Decided cases whose actions did not finish by ``before`` (a worker or request died)."""
        reply = await run_batch(self.client, [("ZRANGEBYSCORE", CaseKeys(tenant).acting, "-inf",
                                               repr(before.timestamp()), "LIMIT", 0, limit)])  # fmt: skip
        return [text(i) for i in reply[0]]

    async def open_since(self, tenants: Sequence[str]) -> list[float]:
        """Opening times of every undecided case of ``tenants`` (for the queue's size and age)."""
        calls: list[ScriptCall | Command] = [("ZRANGE", CaseKeys(t).open, 0, -1, "WITHSCORES") for t in tenants]
        replies = await run_batch(self.client, calls)
        return [float(score) for reply in replies for _, score in _pairs(reply)]

    async def open_case_of(self, tenant: str, actor: str) -> str | None:
        found = (await run_batch(self.client, [("HGET", CaseKeys(tenant).actors, actor)]))[0]
        return None if found is None else text(found)


def _sort_key(case: Case, sort: str) -> tuple[float, str]:
    if sort == "score":
        return (-float(case.score), case.id)
    if sort == "value":
        return (-case.value, case.id)
    return (case.opened_at.timestamp(), case.id)


def encode_cursor(key: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The sort position a cursor stands for; ValueError for anything this module did not write."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        number, case_id = raw
        return (float(number), str(case_id))
    except (ValueError, TypeError) as err:
        raise ValueError("not a cursor returned by GET /v1/cases") from err


def _log(action: str, reviewer: str, now: datetime, **fields: Any) -> str:
    entry = {"action": action, "by": reviewer, "at": now.isoformat(), **fields}
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def _pairs(reply: Any) -> list[tuple[Any, Any]]:
    if reply and not isinstance(reply[0], list | tuple):
        return list(zip(reply[::2], reply[1::2], strict=True))
    return [(item[0], item[1]) for item in reply]


__all__ = ["UNDECIDED", "CaseBook", "Filters", "Opening", "Step"]
