"""Who an event ties a customer to: the shared-back-end signal that shows only at checkout.

A farm's accounts look unrelated until they pay: one wallet, one delivery address typed
several ways, one parcel locker. When an account is labelled fraud (by a person, or by
a denied case) the store watches what it was known by (engine.outcome_lists), each entry
tagged with its cause, ``label:fraud:<customer>``. A later paid order whose device,
phone or address carries such an entry links its payer to that account; an identity
on the block list links it to "a blocked identity".

What this trusts: the identities the paying event carries are the caller's claims, and
they only ever count *against* the payer (as everywhere in yutang). Not closed (session 14,
SECURITY.md, a strict xfail in tests/api/test_redteam_session14.py): an account that typed a
stranger's address and is then labelled fraud has that address watched, and the stranger's
own next paid order to it is linked at checkout (her holds voided, a case opened).

Until linked-account groups exist (the linked-account features), "linked" is this one
event's identities against the lists. With groups, the payer's whole group is the actor
(engine.cases.keys.actor_of) and the group's shared identities are read instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from engine.datastore.batches import Command, ScriptCall, run_batch, text
from engine.events import Event
from engine.features.keys import KeyBuilder, mask, normalize
from engine.features.spec import PII_ENTITIES, Entity

FRAUD_CAUSE = "label:fraud:"
#: The cause on the watches a checkout denied by the rules puts on its payer and its wallet
#: (``clawback: on: [denied_at_checkout]``, api/outcomes/late.py ``on_denied_checkout``).
DENIED_CAUSE = "checkout:denied:"
#: The clawback cause (``clawback: on``) a denied checkout acts under, and the cause of its links.
DENIED_AT_CHECKOUT = "denied_at_checkout"
#: The clawback cause (``clawback: on``) of a self-filled group-buy (自己拼自己, a 团长's alts): a
#: ``group_buy_join`` the rules deny whose member is among the strong links of the join's referrer,
#: the group's leader (api/outcomes/late.py ``on_self_filled_group``; replay: rewards.py).
SELF_FILLED_GROUP = "self_filled_group"
#: The cause on the watches a self-filled group puts on its leader and on the linked member: like a
#: denied checkout's, a later release outcome of theirs releases nothing.
SELF_FILLED_CAUSE = "group:self-filled:"
#: The outcomes that release a held reward (``hold: until``): a denied checkout's marks stop them.
RELEASES: frozenset[str] = frozenset({"order_paid", "store_visit"})
#: The cause on a denied checkout's wallet when that wallet paid for more accounts than
#: :data:`WALLET_FANOUT` (a school's or a company's account, a 代付 service): it marks an
#: order that carries that wallet, not every account that ever paid from it.
HUB_CAUSE = "checkout:denied-hub:"
#: Accounts a wallet may have paid for (in the pack's ``payment.accounts_30d``) and still be a
#: farm's back end (live: api/outcomes/late.py; replay: engine/replay/rewards.py).
WALLET_FANOUT = 8
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
    cause: str = "linked_at_checkout"  # or denied_at_checkout: the entry a denied checkout put on it

    def as_dict(self) -> dict[str, str | None]:
        return {
            "entity": self.entity, "hint": self.hint, "kind": self.kind, "linked_customer": self.other,
            "cause": self.cause,
        }  # fmt: skip


async def links_of(
    client: object, keys: KeyBuilder, *, tenant: str, event: Event, denied: bool = False, wallets: Sequence[str] = ()
) -> list[Link]:
    """The event's identities that are listed because of another account (or blocked outright).

    ``denied`` (the pack acts on ``denied_at_checkout`` or ``self_filled_group``), with ``wallets``,
    the stored ids of the payment identities the payer used (its ``links``): the payer itself, the event's wallet
    and those are checked for a denied checkout's watch
    (:data:`DENIED_CAUSE`): a payer the rules denied at checkout, or one paying from a
    wallet that was, is linked to that checkout's customer (its own, too); a leader or a member of
    a self-filled group-buy (:data:`SELF_FILLED_CAUSE`, on the customer) is linked to its leader.
    """
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
    ids = [(e, keys.entity_id(tenant, e, v), mask(e, v) if e in PII_ENTITIES else v) for e, v in located]
    denied_only = stored_from = len(ids)  # past denied_only: only a denied checkout's marks count
    if denied:
        ids.append((Entity.CUSTOMER, keys.entity_id(tenant, Entity.CUSTOMER, event.customer), event.customer))
        own = keys.entity_id(tenant, Entity.PAYMENT, normalize(Entity.PAYMENT, event.payment)) if event.payment else ""
        if own:
            ids.append((Entity.PAYMENT, own, "the order's wallet"))
        stored_from = len(ids)  # the payer's stored wallets: a hub's mark does not reach them
        ids += [(Entity.PAYMENT, w, "a wallet the payer paid from") for w in dict.fromkeys(wallets) if w != own]
    calls: list[ScriptCall | Command] = [("HGETALL", f"{keys.tag(tenant, e, i)}:list") for e, i, _ in ids]
    now_ms = int(time.time() * 1000)
    links: list[Link] = []
    for index, ((entity, _, hint), stored) in enumerate(zip(ids, await run_batch(client, calls), strict=True)):
        fields = {text(k): text(v) for k, v in (stored or {}).items()}
        for kind in ("block", "watch"):
            expires, meta = fields.get(kind), fields.get(f"{kind}:m")
            if expires is None or meta is None or (expires != "0" and int(expires) <= now_ms):
                continue
            cause = str(json.loads(meta).get("cause") or "")
            hub = cause.startswith(HUB_CAUSE) and denied_only <= index < stored_from
            if cause.startswith(DENIED_CAUSE) or hub:
                other = cause.split(":", 2)[2] or None
                links.append(Link(entity.value, hint, kind, other, DENIED_AT_CHECKOUT))
                continue  # the payer's own denied checkout counts too
            if cause.startswith(SELF_FILLED_CAUSE) and index >= denied_only:  # on the customer itself
                links.append(Link(entity.value, hint, kind, cause[len(SELF_FILLED_CAUSE) :] or None, SELF_FILLED_GROUP))
                continue
            if index >= denied_only:
                continue
            other = cause[len(FRAUD_CAUSE) :] if cause.startswith(FRAUD_CAUSE) else None
            if other == event.customer or (other is None and kind != "block"):
                continue  # the payer's own label, or a watch someone set by hand: no link to an account
            links.append(Link(entity.value, hint, kind, other))
    return links
