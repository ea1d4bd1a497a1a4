"""The event model shared by the API, the feature store, replay and the pack's test cases.

Scored events get a decision; outcome events (``/v1/events``) only update features,
lists and held rewards.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, field_validator

from engine.identity.addresses import canonical_address
from engine.identity.coupons import canonical_code
from engine.identity.emails import canonical_email
from engine.identity.emails import email_domain as email_domain
from engine.identity.ips import canonical_ip
from engine.identity.payments import canonical_payment
from engine.identity.phones import e164
from engine.numbers import Float


class ScoredType(StrEnum):
    SIGNUP = "signup"
    REFERRAL = "referral"
    COUPON_CLAIM = "coupon_claim"
    GROUP_BUY_JOIN = "group_buy_join"
    RED_PACKET_CLAIM = "red_packet_claim"
    ORDER = "order"


class OutcomeType(StrEnum):
    ORDER_PAID = "order_paid"
    ORDER_CANCELLED = "order_cancelled"  # releases offers reserved at checkout
    REFUND = "refund"
    CHARGEBACK = "chargeback"
    LABEL = "label"
    # the ladder (journeys): a visit in the store, a prepaid top-up (5,000 / 8,000 / 10,000)
    STORE_VISIT = "store_visit"
    TOPUP = "topup"
    # community health: the event's ``group`` is the WeChat group, ``customer`` the member or staff
    GROUP_CREATED = "group_created"  # attributes.source: fission | staff
    MEMBER_JOINED = "member_joined"  # referrer: the member who brought them in
    MEMBER_LEFT = "member_left"
    STAFF_MESSAGE = "staff_message"
    RED_PACKET_SENT = "red_packet_sent"  # attributes.packet (id), attributes.shares
    RED_PACKET_CLAIMED = "red_packet_claimed"  # attributes.packet: one share taken
    # WeCom's contact changes (api/wecom): attributes.staff, and for a deletion attributes.by: customer | staff
    CONTACT_ADDED = "contact_added"
    CONTACT_DELETED = "contact_deleted"


SCORED_TYPES: frozenset[str] = frozenset(t.value for t in ScoredType)
OUTCOME_TYPES: frozenset[str] = frozenset(t.value for t in OutcomeType)
EVENT_TYPES: frozenset[str] = SCORED_TYPES | OUTCOME_TYPES
GROUP_TYPES: frozenset[str] = frozenset(
    t.value
    for t in (
        OutcomeType.GROUP_CREATED,
        OutcomeType.MEMBER_JOINED,
        OutcomeType.MEMBER_LEFT,
        OutcomeType.STAFF_MESSAGE,
        OutcomeType.RED_PACKET_SENT,
        OutcomeType.RED_PACKET_CLAIMED,
    )
)

#: Ids are compared byte for byte, so characters a reviewer cannot see (controls,
#: zero-width spaces and joiners, bidi overrides, the BOM, soft hyphens) are refused:
#: two ids that look the same are the same id.
_INVISIBLE = r"\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
ID_PATTERN = rf"^[^\s{_INVISIBLE}]+$"  # also for ids in paths and other bodies: one rule for every id
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]
#: NaN and Infinity are refused: JSON has no such numbers, and the event export (NDJSON)
#: must stay readable by strict parsers (jq, Go, JavaScript) whatever a caller sends.
AttributeValue = str | int | Annotated[float, Field(allow_inf_nan=False)] | bool
#: The moments an event (or any time a caller sends) may name. Wider than any skew a
#: deployment allows, narrow enough that every local time zone and window arithmetic
#: (``astimezone``, day starts, ``+ window``) stays inside ``datetime``'s years 1-9999.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
#: Longest attribute string: bounds the work of one event's conditions (RE2 matching is linear in it).
MAX_ATTRIBUTE_CHARS = 1024
_EMAIL = re.compile(r"^[^@\s]{1,128}@[^@\s]{1,253}$")  # the schema's pattern; engine.identity.emails decides


def bounded_moment(value: datetime) -> datetime:
    """``value`` made aware (UTC when naive) if it lies in [EARLIEST, LATEST); else a ValueError naming the bounds."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    # the year check first: comparing 0001-01-01T00:00+14:00 with an aware bound overflows
    if not EARLIEST.year - 1 <= value.year <= LATEST.year or not EARLIEST <= value < LATEST:
        raise ValueError(f"must be between {EARLIEST:%Y-%m-%dT%H:%M:%SZ} and {LATEST:%Y-%m-%dT%H:%M:%SZ}")
    return value


#: A caller's date-time: aware, and within [EARLIEST, LATEST) so no conversion can overflow.
Moment = Annotated[datetime, AfterValidator(bounded_moment)]


class Event(BaseModel):
    """One thing that happened to a customer, as a storefront reports it."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    event_id: Identifier
    type: str = Field(json_schema_extra={"enum": list[JsonValue](sorted(EVENT_TYPES))})
    customer: Identifier
    timestamp: Moment = Field(
        default_factory=lambda: datetime.now(UTC), description="ISO 8601, between 2000-01-01 and 2100-01-01 (UTC)"
    )
    device: Identifier | None = None
    ip: str | None = Field(default=None, description="IPv4 or IPv6 address")
    phone: str | None = Field(
        default=None,
        description="read in the pack's phone_region unless it has a country code; stored as E.164",
        json_schema_extra={"pattern": r"^\+?[0-9 ().-]{5,40}$"},
    )
    email: str | None = Field(
        default=None,
        description="stored in its provider's canonical form (engine.identity.emails: Gmail's dots and +tags...)",
        json_schema_extra={"pattern": _EMAIL.pattern},
    )
    referrer: Identifier | None = None
    group: Identifier | None = None
    campaign: Identifier | None = None
    coupon: Identifier | None = None
    address: Annotated[str, Field(min_length=1, max_length=512)] | None = Field(
        default=None, description="delivery address; keyed by its canonical form (engine.identity.addresses)"
    )
    payment: Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)] | None = Field(
        default=None,
        description="the payment provider's wallet or card token / fingerprint; a card number is refused (422)",
    )
    amount: Annotated[Float, Field(ge=0, le=1e9)] | None = None  # true is no yuan (engine.numbers)
    label: str | None = Field(default=None, description="fraud | legit, for type=label")
    attributes: dict[Annotated[str, Field(max_length=64)], AttributeValue] = Field(default_factory=dict, max_length=64)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError(f"unknown event type {value!r}; one of {sorted(EVENT_TYPES)}")
        return value

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        """The address in one spelling (engine.identity.ips): ``::ffff:a.b.c.d`` is ``a.b.c.d``, zones dropped."""
        return None if value is None else canonical_ip(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        """E.164, read in the pack's region (engine.phones): one number, one spelling."""
        return None if value is None else e164(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        """The mailbox as its provider reads it (engine.identity.emails): one inbox, one spelling."""
        return None if value is None else canonical_email(value)

    @field_validator("coupon")
    @classmethod
    def _coupon(cls, value: str | None) -> str | None:
        """The code in one form (engine.identity.coupons): ``qun09-7f3k`` or full-width is ``QUN09-7F3K`` to
        every rule, feature and binding, so ``matches(event.coupon, ...)`` cannot be passed by retyping it."""
        return None if value is None else canonical_code(value)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        """Kept as sent (conditions may read it); refused when it folds to nothing (``-- ,,``)."""
        if value is not None:
            canonical_address(value)
        return value

    @field_validator("payment", mode="before")
    @classmethod
    def _payment(cls, value: Any) -> Any:
        """A token, never a card number (engine.identity.payments): checked before the id pattern,
        so ``4111 1111 1111 1111`` is refused as a card number, not for its spaces."""
        return canonical_payment(value) if isinstance(value, str) else value

    @field_validator("label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None and value not in ("fraud", "legit"):
            raise ValueError("label must be 'fraud' or 'legit'")
        return value

    @field_validator("attributes")
    @classmethod
    def _attribute_lengths(cls, value: dict[str, AttributeValue]) -> dict[str, AttributeValue]:
        for name, item in value.items():
            if isinstance(item, str) and len(item) > MAX_ATTRIBUTE_CHARS:
                raise ValueError(f"attribute {name!r} is longer than {MAX_ATTRIBUTE_CHARS} characters")
        return value

    @property
    def epoch(self) -> float:
        return self.timestamp.timestamp()


def phone_segment(phone: str | None) -> str | None:
    """First three digits of a mainland mobile number (the carrier segment, e.g. 170).

    Events carry E.164 (``+8617012345678`` -> ``170``); a number of another country has
    no mainland segment (``+17035550123`` is not a virtual-operator 170 number). Bare
    digits (a value not normalized yet) are read as before.
    """
    if not phone:
        return None
    if phone.startswith("+"):
        return phone[3:6] if phone.startswith("+86") and len(phone) >= 6 else None
    digits = phone.removeprefix("+").removeprefix("86") if len(phone) > 11 else phone.lstrip("+")
    return digits[:3] if len(digits) >= 3 else None


def phone_block(phone: str | None) -> str | None:
    """First seven digits of a mainland mobile number (E.164): the block the geocoder places.

    A code platform (接码平台) rents SIMs bought in batches, so its numbers fill a few
    blocks; a studio's parents are spread over their city's blocks, and numbers from
    outside the area land one per block. Only E.164 mainland mobiles (``+861...``, 11
    digits) have a block: a landline, a number of another country or raw digits have none.
    """
    if not phone or not phone.startswith("+861") or len(phone) != 14:
        return None
    return phone[3:10]


def ip_subnet(ip: str | None) -> str | None:
    """The /24 (IPv4) or /64 (IPv6) network an address belongs to."""
    if not ip:
        return None
    if ":" not in ip:  # validated IPv4 dotted quad: the fast path of every request
        return ip.rsplit(".", 1)[0] + ".0/24"
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


#: The least money that is a payment: a fen (0.01 yuan), the smallest amount a wallet or card moves.
MIN_PAYMENT = 0.01


def paid_amount(amount: float | None) -> bool:
    """Whether an ``order_paid`` of ``amount`` paid anything: no amount given, or at least a fen."""
    return amount is None or amount >= MIN_PAYMENT


def is_payment(event: Event) -> bool:
    """Whether the event is money paid: an ``order_paid`` that does not say it cost less than a fen.

    A 0元 checkout (a free gift's order, an order its coupon paid in full) is an ``order_paid``
    of 0: it is no payment for any "has this account paid" mark, or a farm's accounts became
    customers for nothing (red team, session 8). Nor is one of less than a fen (``0.004``):
    no wallet moves it, and "more than 0" made it a payment (red team, session 9). One that
    gives no amount is still a payment.
    """
    return event.type == "order_paid" and paid_amount(event.amount)


def derived_fields(event: Event) -> dict[str, Any]:
    """Values derived from the event's raw fields that conditions and features read."""
    return {
        "phone.segment": phone_segment(event.phone),
        "email.domain": email_domain(event.email),
        "ip.subnet": ip_subnet(event.ip),
    }
