"""An event id names one event: the first request claims it, later ones replay or conflict.

Per tenant, ``/v1/score`` claims ``event_id`` before anything is recorded, with one
atomic SET NX (``claim.lua``) holding a fingerprint of the request: a digest of each
field as sent. On one server the claim is the first part of the feature script's call
(one script, engine/datastore/compose.py): a claim already there stops it before the
event is recorded; the pending value carries a per-request token, so a request that
fails on the way frees the claim only if it took it. The claim is *pending* while the first request is evaluated and
*done*, with the answer, once its writes land (in the same round trip as the
request's other writes). A later request with the same id then

- replays the answer when every field matches (``Idempotent-Replayed: true``),
- gets 409 ``idempotency_conflict`` naming the fields that differ,
- waits briefly while the first is pending, then gets 409 ``in_progress``.

So a reused id can never be evaluated twice: no second grant, history entry, export
row or metric. ``Idempotency-Key`` has its own claims, bound to the fingerprint of
the body and query string; it never reads an event id's answer.

Keys are ``yt:{<tenant>:<space>:<digest>}``, the space ``evt`` for scored events,
``out`` for outcomes (``/v1/events``) and ``idk`` for Idempotency-Keys: one slot per
claim, so claims spread over a cluster. A pending claim lives ``PENDING_TTL_MS``:
if its worker dies mid-request, the id is free again after that and a retry is
evaluated (the offer ledger is keyed by event id, so no budget is spent twice).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from api.errors import ApiError, IdempotencyConflict, InProgress
from api.redis_guard import RedisGuard
from engine.datastore.batches import Command
from engine.datastore.keys import PREFIX, digest, safe_id
from engine.datastore.scripts import AnyRedis, Call, Script, guarded, run_one
from engine.events import Event

CLAIM_SCRIPT = Script.load("engine.features", "claim.lua")
#: Free a claim only while it still holds this request's own pending value (its token).
RELEASE_OWN = Script.inline(
    "claim release", "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
)
#: The json module's own string writers (C): what ``json.dumps`` calls for a str.
_quote = json.encoder.encode_basestring
_quote_ascii = json.encoder.encode_basestring_ascii
#: ``json.dumps(value, sort_keys=True, ensure_ascii=False)`` without a new encoder per call (the same text).
_sorted_json = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
#: How long a claim stays pending when its request never finishes (worker killed).
PENDING_TTL_MS = 15_000
_PENDING, _DONE = "P", "D"
#: Claim spaces: event ids of scored events and of outcomes are claimed apart.
SCORED, OUTCOME = "evt", "out"


#: Bytes of each field's digest. The caller chooses every value, so two values with one
#: digest are a birthday search away: at 6 bytes (48 bits) a pair of customer ids that
#: replayed one's grant to the other took three minutes on one core. 16 bytes puts that at
#: 2^64 tries. (Two event ids sharing a claim key only ever conflict: the id is a field.)
FIELD_DIGEST_BYTES = 16


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A request as sent: a collision-resistant digest per field, and one of them all."""

    fields: dict[str, str]
    whole: str
    text: str = field(compare=False, repr=False)  # what ``encode()`` gives, written with ``whole``

    @classmethod
    def of(cls, event: Event, *, query: str = "") -> Fingerprint:
        """The fields the caller sent (defaults excluded), times compared as instants.

        ``query`` (the query string, for Idempotency-Key) counts as one more field. Each
        field's digest is over the text ``json.dumps(value, sort_keys=True,
        ensure_ascii=False)`` gives its JSON value, built here without the encoder for
        the scalars most fields are (claims stored by earlier builds keep matching).
        """
        fields: dict[str, str] = {}
        for name in event.model_fields_set:
            value = event.epoch if name == "timestamp" else getattr(event, name)
            fields[name] = digest(_json_text(value), FIELD_DIGEST_BYTES)
        return cls.of_fields(fields).with_query(query)

    def with_query(self, query: str) -> Fingerprint:
        """This fingerprint with the query string as one more field (itself when there is none).

        /v1/score fingerprints the event once and derives the Idempotency-Key's from it,
        instead of digesting every field again.
        """
        if not query:
            return self
        digested = digest(_json_text("&".join(sorted(query.split("&")))), FIELD_DIGEST_BYTES)  # order means nothing
        return self.of_fields({**self.fields, "query": digested})

    @classmethod
    def of_fields(cls, fields: dict[str, str]) -> Fingerprint:
        """The fingerprint of ``fields``: each name and digest quoted once for the whole's text and ``encode()``'s."""
        pairs = [(_quote_ascii(k), _quote_ascii(v)) for k, v in sorted(fields.items())]
        whole = "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"  # json.dumps(fields, sort_keys=True)
        text = "{" + ",".join(f"{k}:{v}" for k, v in pairs) + "}"
        return cls(fields, digest(whole, FIELD_DIGEST_BYTES), text)

    def differing(self, other: Fingerprint) -> list[str]:
        """Names of the fields whose values differ, or that only one of the two sent."""
        names = self.fields.keys() | other.fields.keys()
        return sorted(n for n in names if self.fields.get(n) != other.fields.get(n))

    def encode(self) -> str:
        return self.text

    @classmethod
    def decode(cls, text: str) -> Fingerprint:
        return cls.of_fields(json.loads(text))


def _json_text(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, ensure_ascii=False)``, the scalars written directly (same text)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is int:
        return int.__repr__(value)  # what the json module writes for them
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return _sorted_json(value)


class ClaimState(StrEnum):
    NEW = "new"  # this request claimed the id: evaluate it
    DONE = "done"  # answered before with the same fields: replay ``payload``
    PENDING = "pending"  # the first request with this id is still being evaluated
    CONFLICT = "conflict"  # the id was first sent with other fields: ``fields``


@dataclass(frozen=True, slots=True)
class Claim:
    state: ClaimState
    payload: bytes = b""
    fields: tuple[str, ...] = ()


def _parse(stored: Any, fingerprint: Fingerprint) -> Claim:
    """What an existing claim means for a request with ``fingerprint``."""
    raw = stored if isinstance(stored, bytes) else str(stored).encode()
    state, _, rest = raw.partition(b"|")
    encoded, _, payload = rest.partition(b"|")
    first = Fingerprint.decode(encoded.decode())
    if first.whole != fingerprint.whole:
        return Claim(ClaimState.CONFLICT, fields=tuple(first.differing(fingerprint)))
    if state.decode() == _DONE:
        return Claim(ClaimState.DONE, payload=payload)
    return Claim(ClaimState.PENDING)


class Claims:
    """Claims of event ids and Idempotency-Keys for one Redis client."""

    def __init__(self, client: AnyRedis, *, ttl_s: int) -> None:
        self._client = client
        self._ttl_ms = ttl_s * 1000

    @staticmethod
    def event_key(tenant: str, event_id: str, space: str = SCORED) -> str:
        return f"{PREFIX}:{{{safe_id(tenant)}:{space}:{digest(event_id, 12)}}}"

    @staticmethod
    def idempotency_key(tenant: str, key: str) -> str:
        return f"{PREFIX}:{{{safe_id(tenant)}:idk:{digest(key, 12)}}}"

    async def claim_event(self, *, tenant: str, event: Event, fingerprint: Fingerprint, space: str = SCORED) -> Claim:
        """Claim ``event.event_id`` as pending, or say what the earlier claim means."""
        stored = await run_one(self._client, self.claim_call(tenant=tenant, event=event, fingerprint=fingerprint,
                                                              space=space))  # fmt: skip
        return claim_of(stored, fingerprint)

    def claim_call(
        self, *, tenant: str, event: Event, fingerprint: Fingerprint, space: str = SCORED, token: str = ""
    ) -> Call:
        """The claim as a script call (nil reply: claimed), to run first in a composite (engine/datastore/compose.py).

        ``token`` makes the pending value this request's own, so :meth:`release` with it
        frees the claim only if this request took it (one whose reply was lost is not known).
        """
        value = f"{_PENDING}|{fingerprint.encode()}" + (f"|{token}" if token else "")
        return Call(CLAIM_SCRIPT, [self.event_key(tenant, event.event_id, space)], [value, PENDING_TTL_MS])

    async def claim_key(self, *, tenant: str, key: str, fingerprint: Fingerprint) -> Claim:
        """Bind an Idempotency-Key to the request's fingerprint (NEW), or compare with its binding.

        The binding holds no answer: a matching request goes on to its event id's claim,
        which replays (DONE here only means "same request as before").
        """
        value = f"{_DONE}|{fingerprint.encode()}"
        stored = await run_one(
            self._client, Call(CLAIM_SCRIPT, [self.idempotency_key(tenant, key)], [value, self._ttl_ms])
        )
        return Claim(ClaimState.NEW) if stored is None else _parse(stored, fingerprint)

    async def peek_event(
        self, *, tenant: str, event_id: str, fingerprint: Fingerprint, space: str = SCORED
    ) -> Claim | None:
        """The claim of ``event_id`` without claiming it; None when it is free."""
        async with guarded("claim"):
            stored = await self._client.get(self.event_key(tenant, event_id, space))
        return None if stored is None else _parse(stored, fingerprint)

    async def wait_for(
        self, *, tenant: str, event_id: str, fingerprint: Fingerprint, timeout_s: float, space: str = SCORED
    ) -> Claim | None:
        """Poll a pending claim until it is done, freed (None) or ``timeout_s`` passes (PENDING)."""
        deadline = time.monotonic() + timeout_s
        pause = 0.01
        while time.monotonic() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 0.1)
            claim = await self.peek_event(tenant=tenant, event_id=event_id, fingerprint=fingerprint, space=space)
            if claim is None or claim.state is not ClaimState.PENDING:
                return claim
        return Claim(ClaimState.PENDING)

    def complete_calls(
        self, *, tenant: str, event: Event, fingerprint: Fingerprint, payload: bytes, space: str = SCORED
    ) -> list[Command]:
        """The write marking the claim done with its answer, sent with the request's other writes."""
        value = f"{_DONE}|{fingerprint.encode()}|".encode() + payload
        return [("SET", self.event_key(tenant, event.event_id, space), value, "PX", self._ttl_ms)]

    def complete_filled_call(
        self, *, tenant: str, event: Event, fingerprint: Fingerprint, pieces: Sequence[bytes | str], script: Script,
        space: str = SCORED,
    ) -> Call:  # fmt: skip
        """:meth:`complete_calls` as ``script`` (engine/datastore/compose.py's SET_FILLED): the answer in ``pieces``.

        ``pieces`` alternate the answer's bytes and references to replies the composite fills in.
        """
        prefix = f"{_DONE}|{fingerprint.encode()}|".encode()
        first = pieces[0]
        head = prefix + (first if isinstance(first, bytes) else first.encode())
        return Call(script, [self.event_key(tenant, event.event_id, space)], [self._ttl_ms, head, *pieces[1:]])

    async def release_key(self, *, tenant: str, key: str) -> None:
        """Unbind an Idempotency-Key whose request was refused before it was evaluated."""
        async with guarded("claim"):
            await self._client.delete(self.idempotency_key(tenant, key))

    async def release(self, *, tenant: str, event_id: str, space: str = SCORED, own: Call | None = None) -> None:
        """Free a pending claim whose request could not be evaluated (Redis failed on the way).

        ``own``: the :meth:`claim_call` this request sent: freed only while it holds that value.
        """
        if own is not None:
            await run_one(self._client, Call(RELEASE_OWN, own.keys, own.args[:1]))
            return
        async with guarded("claim"):
            await self._client.delete(self.event_key(tenant, event_id, space))


def claim_of(stored: Any, fingerprint: Fingerprint) -> Claim:
    """What the claim script's reply means for a request with ``fingerprint`` (nil: this request claimed it)."""
    return Claim(ClaimState.NEW) if stored is None else _parse(stored, fingerprint)


async def claim_or_replay(
    claims: Claims,
    guard: RedisGuard,
    *,
    tenant: str,
    event: Event,
    fingerprint: Fingerprint,
    wait_s: float,
    late: ApiError | None = None,
    space: str = SCORED,
    attempt: Callable[[], Awaitable[Claim]] | None = None,
) -> bytes | None:
    """Claim the event id (None: evaluate the event) or the first answer to replay.

    ``attempt``: how to claim, when the claim goes with other work in one round trip
    (/v1/score's claim and features: :func:`api.scoring.service`); by default
    :meth:`Claims.claim_event` on its own.

    Raises 409 :class:`IdempotencyConflict` when the id was first sent with other
    fields, :class:`InProgress` when its first request is still running after
    ``wait_s``. ``late`` (an event time the clock refuses) is raised unless the event
    was answered before: a storefront retrying after its own timeout resends the old time.
    """
    event_id = event.event_id
    if late is not None:
        answered = await guard.call(
            "claim", claims.peek_event(tenant=tenant, event_id=event_id, fingerprint=fingerprint, space=space)
        )
        if answered is None or answered.state is not ClaimState.DONE:
            raise late
        return answered.payload
    for _ in range(2):  # a second try when the pending first request gave up its claim
        found: Claim | None = await (
            attempt()
            if attempt is not None
            else guard.call(
                "claim", claims.claim_event(tenant=tenant, event=event, fingerprint=fingerprint, space=space)
            )
        )
        if found is not None and found.state is ClaimState.NEW:
            return None
        if found is not None and found.state is ClaimState.PENDING:
            found = await claims.wait_for(
                tenant=tenant, event_id=event_id, fingerprint=fingerprint, timeout_s=wait_s, space=space
            )
        if found is None:
            continue
        if found.state is ClaimState.CONFLICT:
            raise conflict("event_id", event_id, found.fields)
        if found.state is ClaimState.DONE:
            return found.payload
        break
    raise InProgress(
        f"event_id {event.event_id!r} is being evaluated by an earlier request; retry for its answer",
        headers={"Retry-After": "1"},
    )


def conflict(what: str, value: str, fields: tuple[str, ...]) -> IdempotencyConflict:
    """409 for an event id or Idempotency-Key first sent with other ``fields``."""
    named = ", ".join(fields) or "the request"
    return IdempotencyConflict(
        f"{what} {value!r} was first sent with other values of: {named}; a new event needs a new {what}",
        extra={"fields": [{"field": f, "message": f"differs from the first request with this {what}"} for f in fields]},
    )
