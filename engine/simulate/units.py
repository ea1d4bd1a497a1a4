"""A unit is one story told in events (a parent's first week, one farm's night).

Units are generated one at a time and each is complete in itself, so a budget of
events can be filled by whole units and the last one cut at any point without ever
leaving an outcome whose order is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.simulate.timeline import Draft
from engine.simulate.world import Person

HONEST = "honest"
FARMING_RING = "farming_ring"
FAKE_REFERRAL_BURST = "fake_referral_burst"
RED_PACKET_BOT = "red_packet_bot"
MULTI_ACCOUNT_GROUP_BUY = "multi_account_group_buy"
ABUSE_KINDS: tuple[str, ...] = (FARMING_RING, FAKE_REFERRAL_BURST, RED_PACKET_BOT, MULTI_ACCOUNT_GROUP_BUY)


class Unit:
    """The drafts of one story, all with the same ground truth."""

    def __init__(self, truth: str, sequence: Iterator[int]) -> None:
        self.truth = truth
        self._sequence = sequence  # shared by all units of a run: equal times keep creation order
        self.drafts: list[Draft] = []

    def add(
        self,
        t: float,
        type_: str,
        person: Person | None = None,
        *,
        customer: str | None = None,
        attributes: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Draft:
        """Add an event of ``person`` (their device, ip, phone...); ``fields`` override or add."""
        base: dict[str, Any] = {"type": type_}
        if person is not None:
            base.update(customer=person.customer, device=person.device, ip=person.ip, phone=person.phone)
            if person.email and type_ in ("signup", "referral"):
                base["email"] = person.email
        if customer is not None:
            base["customer"] = customer
        base.update({k: v for k, v in fields.items() if v is not None})
        draft = Draft(t=t, fields=base, truth=self.truth, seq=next(self._sequence), attributes=dict(attributes or {}))
        self.drafts.append(draft)
        return draft

    def ordered(self) -> list[Draft]:
        return sorted(self.drafts, key=lambda d: (d.t, d.seq))
