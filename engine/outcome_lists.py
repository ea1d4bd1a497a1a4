"""What an outcome does to the live lists: a reviewer's label, a chargeback.

One story for ``POST /v1/events`` and for replay, so a backtest lists what live traffic lists:

- ``label: fraud`` blocks the customer and watches what the customer is known by: the
  event's device, and the devices, phones, addresses and payment tokens in the customer's ``links`` set
  (written on every scored event, the newest ``links_cap`` of them; see
  :meth:`FeatureStore.known_identities`). A farmer's next account on the same phone or
  device goes to a person instead of taking the next reward. **IPs are not watched**:
  an office or campus NAT, a studio's Wi-Fi or a mobile carrier's exit is shared by
  honest customers, and one label would send all of them to review.
- ``chargeback`` watches the customer.
- ``label: legit`` lifts the customer's block and watch, and the watches that this
  customer's fraud label put on its device and known identities (entries tagged with
  that cause; an entry since replaced for another reason stays).

What a label trusts: only the customer id (and device) of the event; the identities
acted on are the ones the store itself recorded for that customer, never values the
labelling caller sends, so a label cannot watch a stranger's phone by naming it.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.datastore.keys import safe_id
from engine.events import Event
from engine.features.spec import Entity, ListKind
from engine.features.store import FeatureStore

#: Identities a fraud label watches (see the module docstring for why not IPs).
WATCHED_ON_FRAUD: frozenset[Entity] = frozenset({Entity.DEVICE, Entity.PHONE, Entity.ADDRESS, Entity.PAYMENT})


@dataclass(frozen=True, slots=True)
class ListChange:
    entity: Entity
    kind: ListKind
    action: str  # added | removed
    hint: str  # which value: as given, masked, or where the store knows it from

    def as_dict(self) -> dict[str, str]:
        return {"entity": self.entity.value, "kind": self.kind.value, "action": self.action, "hint": self.hint}


def fraud_cause(customer: str) -> str:
    """The tag on the watch entries a fraud label of ``customer`` adds, so that ``legit`` can lift them."""
    return f"label:fraud:{customer}"


async def apply_outcome(store: FeatureStore, *, tenant: str, event: Event, author: str) -> list[ListChange]:
    """Change the lists as ``event`` (a label or chargeback) asks; every other outcome changes nothing."""
    if event.type == "label" and event.label == "fraud":
        return await _fraud(store, tenant, event, author)
    if event.type == "chargeback":
        entry = await store.add_entry(
            tenant=tenant, entity=Entity.CUSTOMER, value=event.customer, kind=ListKind.WATCH,
            reason=f"chargeback (event {event.event_id})", author=author,
        )  # fmt: skip
        return [ListChange(Entity.CUSTOMER, ListKind.WATCH, "added", entry.hint)]
    if event.type == "label" and event.label == "legit":
        return await _legit(store, tenant, event)
    return []


async def _fraud(store: FeatureStore, tenant: str, event: Event, author: str) -> list[ListChange]:
    why = f"labelled fraud (event {event.event_id})"
    blocked = await store.add_entry(
        tenant=tenant, entity=Entity.CUSTOMER, value=event.customer, kind=ListKind.BLOCK, reason=why, author=author
    )
    changes = [ListChange(Entity.CUSTOMER, ListKind.BLOCK, "added", blocked.hint)]
    watch_why = f"known to customer {event.customer}, labelled fraud (event {event.event_id})"
    cause, own_device = fraud_cause(event.customer), None
    if event.device:
        entry = await store.lists.add(
            tenant=tenant, entity=Entity.DEVICE, value=event.device, kind=ListKind.WATCH,
            reason=f"device of a customer labelled fraud (event {event.event_id})", author=author, cause=cause,
        )  # fmt: skip
        own_device = entry.entry_id
        changes.append(ListChange(Entity.DEVICE, ListKind.WATCH, "added", entry.hint))
    known = [
        (entity, entity_id, _hint(entity, entity_id, event.customer))
        for entity, entity_id in await store.known_identities(tenant=tenant, customer=event.customer)
        if entity in WATCHED_ON_FRAUD and not (entity is Entity.DEVICE and entity_id == own_device)
    ]
    added = await store.lists.add_ids(
        tenant=tenant, ids=known, kind=ListKind.WATCH, reason=watch_why, author=author, cause=cause
    )
    return changes + [ListChange(e.entity, e.kind, "added", e.hint) for e in added]


async def _legit(store: FeatureStore, tenant: str, event: Event) -> list[ListChange]:
    changes: list[ListChange] = []
    for kind in (ListKind.BLOCK, ListKind.WATCH):
        if await store.remove_entry(tenant=tenant, entity=Entity.CUSTOMER, value=event.customer, kind=kind):
            changes.append(ListChange(Entity.CUSTOMER, kind, "removed", safe_id(event.customer)))
    known = [
        (entity, entity_id)
        for entity, entity_id in await store.known_identities(tenant=tenant, customer=event.customer)
        if entity in WATCHED_ON_FRAUD
    ]
    lifted = await store.lists.remove_caused(
        tenant=tenant, ids=known, kind=ListKind.WATCH, cause=fraud_cause(event.customer)
    )
    changes += [ListChange(entity, ListKind.WATCH, "removed", _hint(entity, i, event.customer)) for entity, i in lifted]
    return changes


def _hint(entity: Entity, entity_id: str, customer: str) -> str:
    """A device id is shown as stored; a phone, address or payment only as whose it is (the store keeps a hash)."""
    return entity_id if entity is Entity.DEVICE else f"{entity.value} of customer {customer}"
