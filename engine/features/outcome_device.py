"""The device an outcome happened to: what a device's paying and visiting accounts are counted by.

A studio's counter tablet signs up walk-ins who pay at the counter and have their session in
the studio minutes later; a farm's phone carries accounts that never pay and never come. A
pack tells them apart by the share of a device's accounts that came to the studio or paid
(``{distinct: customer, on: [store_visit], by: device}`` beside ``device.accounts_7d``), but a
payment, a refund and a session are the merchant's records (``/v1/events``, an ``events``
key) and name no device. So an ``order_paid``, ``refund``, ``chargeback`` or ``store_visit``
without one is counted on the customer's **newest device**: the newest ``d:`` member of its
``links`` set, written by its own scored events (one ZREVRANGE in the customer's slot: one
more round trip on such an outcome, none on ``/v1/score``; only when the pack has a stream
by device whose ``on`` names the outcome; once the device is known, every device stream the
outcome feeds counts it). A device id outside the id alphabet is stored as its
digest and cannot be named again: such an outcome credits no device.

A ``refund`` / ``chargeback`` is counted on the device its payment was: the newest of the
customer's devices used by the time of its latest paid order (``rg:own`` ``l``, read in the
same round trip as the ZREVRANGE), the newest one when none was or nothing paid is on record.
Red team, session 9: a farm's hired buyers paid on the farm phone, then each tapped one
coupon from a throwaway phone before refunding, so the refunds landed on the burners and
the farm phone's payers looked as if they kept the money.

What is trusted: the outcome itself (only an ``events`` key records one; a session in the
studio needs someone in the studio); the device is the customer's own claim, like every
identity. A farmer who makes an account claim the counter tablet's id only adds an account
that never came to the tablet (its share falls); to raise his own phone's share he must
bring that share of its accounts into the studio, or pay from them with a wallet each and
keep the money with the store (refunds are a stream of their own, for the pack to subtract).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from engine.events import Event
from engine.features.spec import Entity, FeatureSpec, WindowedFeature

#: The merchant's outcomes that may be counted on the customer's device.
DEVICE_OUTCOMES = frozenset({"order_paid", "refund", "chargeback", "store_visit"})


def wants_device(event: Event, specs: Sequence[FeatureSpec]) -> bool:
    """Whether ``event`` is such an outcome without a device, and some stream by device names its type in ``on``.

    Only a stream that lists the outcome counts it by device: a device stream over every type
    (``on`` left empty) does not make the store look the payer's device up.
    """
    if event.type not in DEVICE_OUTCOMES or event.device is not None:
        return False
    return any(isinstance(s, WindowedFeature) and s.by is Entity.DEVICE and event.type in s.on for s in specs)


async def on_newest_device(event: Event, identities: Callable[[], Awaitable[list[tuple[Entity, str]]]]) -> Event:
    """``event`` on the customer's newest device (``identities``: newest first), or unchanged without one."""
    for entity, entity_id in await identities():
        if entity is Entity.DEVICE:
            if entity_id.startswith("~"):
                return event  # a digest: the id itself is not known any more
            return event.model_copy(update={"device": entity_id})
    return event
