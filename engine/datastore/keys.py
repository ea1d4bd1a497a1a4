"""The key layout every Redis key of yutang follows, and the keys of the shared slots.

Every key is ``yt:{<tenant>:<ns>:<id>}:<suffix>``. The part in braces is the Redis
Cluster hash tag: everything one Lua script touches lives in one slot, so a script
records and reads one entity's state atomically on one server or a cluster, and a
tenant never reaches another tenant's keys. Ids that could break the hash tag are
replaced by a digest (:func:`safe_id`).

Offers (slot ``{<tenant>:ofr:<offer>}``) hold the whole reservation state of an
offer -- total, per-customer and per-day counters, idempotency records and held
rewards. Customers use the feature store's namespace ``cus``, so the ledger's, the
contact gate's and the journeys' per-customer keys share the slot of that
customer's features.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass

PREFIX = "yt"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.@+=-]{1,64}$")


#: ``base64.urlsafe_b64encode`` is ``b2a_base64`` and this translation behind two Python calls.
URLSAFE = bytes.maketrans(b"+/", b"-_")


def urlsafe_b64(raw: bytes) -> str:
    """``base64.urlsafe_b64encode(raw).decode()``, in one C call and a translation (~1 µs less per call)."""
    return binascii.b2a_base64(raw, newline=False).translate(URLSAFE).decode()


def digest(value: str, size: int = 9) -> str:
    """Unkeyed short digest (base64url) of a non-personal identifier."""
    return urlsafe_b64(hashlib.blake2b(value.encode(), digest_size=size).digest()).rstrip("=")


def safe_id(value: str) -> str:
    """``value`` itself when it is safe inside a key and hash tag, else ``~<digest>``."""
    return value if _SAFE_ID.match(value) else "~" + digest(value)


@dataclass(frozen=True, slots=True)
class OfferKeys:
    """Keys of one offer of one tenant; all in the offer's slot."""

    tenant: str
    offer_id: str

    @property
    def base(self) -> str:
        return f"{PREFIX}:{{{safe_id(self.tenant)}:ofr:{safe_id(self.offer_id)}}}"

    @property
    def budget(self) -> str:  # hash: used, granted, held, released, voided, expired
        return f"{self.base}:budget"

    @property
    def customers(self) -> str:  # hash: beneficiary -> units held or granted
        return f"{self.base}:customers"

    def day(self, day: str) -> str:  # counter of grants on a local date (YYYY-MM-DD)
        return f"{self.base}:day:{day}"

    def event(self, event_id: str) -> str:  # the stored outcome of one event
        return f"{self.base}:event:{event_id}"

    def hold(self, event_id: str) -> str:  # hash: one held reward
        return f"{self.base}:hold:{event_id}"

    @property
    def due(self) -> str:  # zset: event_id of each pending hold -> void_at
        return f"{self.base}:due"

    def period(self, kind: str, key: str) -> str:  # counter of grants in a local week (w) or month (m)
        return f"{self.base}:{kind}:{key}"

    @property
    def reservations_due(self) -> str:  # zset: event_id of each uncommitted reservation -> expires_at
        return f"{self.base}:rdue"


@dataclass(frozen=True, slots=True)
class CustomerKeys:
    """Keys of one customer of one tenant; the feature store's customer slot."""

    tenant: str
    customer: str

    @property
    def base(self) -> str:
        return f"{PREFIX}:{{{safe_id(self.tenant)}:cus:{safe_id(self.customer)}}}"

    @property
    def grants(self) -> str:  # zset: JSON grant record -> event epoch
        return f"{self.base}:of:grants"

    @property
    def link_summary(self) -> str:  # string: the link features' copy of lk:f, links and grants (features/links.py)
        return f"{self.base}:lk:s"

    @property
    def holds(self) -> str:  # set: hold ids where this customer is invitee or beneficiary
        return f"{self.base}:of:holds"

    @property
    def released(self) -> str:  # zset: hold ids released where this customer is invitee or beneficiary -> when
        return f"{self.base}:of:released"

    @property
    def released_refs(self) -> str:  # hash: released hold id -> "order reference|beneficiary|subject"
        return f"{self.base}:of:released:ref"

    @property
    def clawbacks(self) -> str:  # hash: "offer/event" -> JSON of a reward marked for clawback
        return f"{self.base}:of:clawbacks"

    @property
    def reservations(self) -> str:  # set: reservation ids (offer/event) still reserved or committed
        return f"{self.base}:of:resv"

    def contacts(self, channel: str) -> str:  # zset: contact id -> epoch ms
        return f"{self.base}:ct:{channel}"

    @property
    def contact_log(self) -> str:  # zset: "channel|ms|id" -> epoch ms, every channel
        return f"{self.base}:ct:log"

    def platform(self, quota: str) -> str:  # int: contacts counted against a platform quota period
        return f"{self.base}:ct:pf:{quota}"


def held_offers_key(tenant: str) -> str:
    """Set of offer ids that ever held a reward: where ``expire_holds`` looks."""
    return f"{PREFIX}:{{{safe_id(tenant)}:ofs}}:held"


def reserved_offers_key(tenant: str) -> str:
    """Set of offer ids that ever reserved a unit: where the reservation sweep looks."""
    return f"{PREFIX}:{{{safe_id(tenant)}:ofs}}:reserved"
