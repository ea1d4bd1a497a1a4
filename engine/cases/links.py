"""Who an event ties a customer to: the shared-back-end signal that shows only at checkout.

A farm's accounts look unrelated until they pay: one wallet, one delivery address typed
several ways, one parcel locker. When an account is labelled fraud (by a person, or by
a denied case) the store watches what it was known by (engine.outcome_lists), each entry
tagged with its cause, ``label:fraud:<customer>``. A later paid order whose device,
phone or address carries such an entry links its payer to that account; an identity
on the block list links it to "a blocked identity".

What this trusts: the identities the paying event carries are the caller's claims, and
they only ever count *against* the payer (as everywhere in yutang): naming a stranger's
address can put the sender's own rewards at risk, never someone else's.

Until linked-account groups exist (the linked-account features), "linked" is this one
event's identities against the lists. With groups, the payer's whole group is the actor
(engine.cases.keys.actor_of) and the group's shared identities are read instead.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from engine.datastore.batches import Command, ScriptCall, run_batch, text
from engine.events import Event
from engine.features.keys import KeyBuilder, mask, normalize
from engine.features.spec import PII_ENTITIES, Entity

FRAUD_CAUSE = "label:fraud:"
#: The identities a paid order is checked by (a payment identity joins them when events carry one).
CHECKED: tuple[tuple[Entity, str], ...] = (
    (Entity.DEVICE, "device"),
    (Entity.PHONE, "phone"),
    (Entity.ADDRESS, "address"),
)


@dataclass(frozen=True, slots=True)
class Link:
    """One identity the event shares with a labelled (or blocked) account."""

    entity: str
    hint: str  # masked for personal values
    kind: str  # block | watch
    other: str | None  # the labelled customer, when the entry says whose it was

    def as_dict(self) -> dict[str, str | None]:
        return {"entity": self.entity, "hint": self.hint, "kind": self.kind, "linked_customer": self.other}


async def links_of(client: object, keys: KeyBuilder, *, tenant: str, event: Event) -> list[Link]:
    """The event's identities that are listed because of another account (or blocked outright)."""
    located: list[tuple[Entity, str]] = []
    for entity, field in CHECKED:
        raw = getattr(event, field)
        if not raw:
            continue
        try:
            value = normalize(entity, raw)
        except ValueError:
            continue
        located.append((entity, value))
    calls: list[ScriptCall | Command] = [
        ("HGETALL", f"{keys.tag(tenant, e, keys.entity_id(tenant, e, v))}:list") for e, v in located
    ]
    now_ms = int(time.time() * 1000)
    links: list[Link] = []
    for (entity, value), stored in zip(located, await run_batch(client, calls), strict=True):
        fields = {text(k): text(v) for k, v in (stored or {}).items()}
        hint = mask(entity, value) if entity in PII_ENTITIES else value
        for kind in ("block", "watch"):
            expires, meta = fields.get(kind), fields.get(f"{kind}:m")
            if expires is None or meta is None or (expires != "0" and int(expires) <= now_ms):
                continue
            cause = str(json.loads(meta).get("cause") or "")
            other = cause[len(FRAUD_CAUSE) :] if cause.startswith(FRAUD_CAUSE) else None
            if other == event.customer or (other is None and kind != "block"):
                continue  # the payer's own label, or a watch someone set by hand: no link to an account
            links.append(Link(entity.value, hint, kind, other))
    return links
