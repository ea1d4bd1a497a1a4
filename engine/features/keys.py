"""Redis key layout and PII hashing of the feature store.

Every key is ``yt:{<tenant>:<ns>:<id>}:<suffix>``. The part in braces is the Redis
Cluster hash tag: everything stored about one entity (one device, one customer, one
hashed phone number...) lands in one slot, so one Lua script per entity can record and
read all of its features atomically, and a tenant can never read another's keys.

``<id>`` is the entity's own identifier when it is not personal data (customer,
device, group, campaign, coupon; ids outside ``[A-Za-z0-9_.@+=-]{1,64}`` are replaced
by a digest so they can never break the hash tag), and otherwise (ip, subnet, phone,
phone segment, email, email domain, address, payment) a keyed hash of the value's
canonical form (engine.identity: E.164, a provider's mailbox, an address key): HMAC-SHA256 with the secret from
settings, over ``tenant, entity, value``, truncated to 120 bits (20 base64url chars).
Without the secret nobody can test a guessed phone number against the keys, and the
same phone hashes differently for two merchants.

Ids and tags are memoized per worker (:meth:`KeyBuilder.locate`, a bounded LRU of
``LOCATE_CACHE`` values): an id is a pure function of the secret, the tenant, the
entity and the value, so a cached id is the id, and the same customers, devices and
phones come back event after event. What the cache holds (raw values of the last few
thousand events) is what those events' bodies held in the same memory; what a hit
saves (~2 µs of HMAC) is far below what the caller can time through the network, and
the value's own features already differ between a value seen and one never seen.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import lru_cache

from engine.datastore.keys import PREFIX, safe_id, urlsafe_b64
from engine.events import Event, email_domain, ip_subnet, phone_block, phone_segment
from engine.features.spec import PII_ENTITIES, Entity
from engine.geo import foreign_number, ip_region
from engine.identity.addresses import canonical_address
from engine.identity.coupons import canonical_code
from engine.identity.device_models import device_model
from engine.identity.emails import canonical_email
from engine.identity.handsets import network, subnet_handset
from engine.identity.ips import canonical_ip, canonical_network
from engine.identity.payments import canonical_payment
from engine.identity.phones import e164

#: The event attribute a merchant with several stores names the event's branch in (docs/api.md, "Branches").
BRANCH_ATTRIBUTE = "branch"

#: Short namespace per entity. A referrer is a customer: both share the customer's slot.
NAMESPACE: dict[Entity, str] = {
    Entity.CUSTOMER: "cus",
    Entity.REFERRER: "cus",
    Entity.DEVICE: "dev",
    Entity.IP: "ip",
    Entity.SUBNET: "net",
    Entity.PHONE: "tel",
    Entity.PHONE_SEGMENT: "seg",
    Entity.PHONE_BLOCK: "blk",
    Entity.EMAIL_DOMAIN: "dom",
    Entity.ADDRESS: "adr",
    Entity.EMAIL: "eml",
    Entity.PAYMENT: "pay",
    Entity.IP_REGION: "ipr",
    Entity.FOREIGN_NUMBER: "fgn",
    Entity.DEVICE_MODEL: "mdl",
    Entity.LINE_MODEL: "lmd",
    Entity.SUBNET_HANDSET: "shs",
    Entity.BRANCH: "brn",
    Entity.PLATFORM: "plf",
    Entity.GROUP: "grp",
    Entity.CAMPAIGN: "cmp",
    Entity.COUPON: "cpn",
}


def normalize(entity: Entity, value: str) -> str:
    """Canonical form of a raw value, so that list entries match events' values.

    ValueError, with a message fit for the caller, when ``value`` is not one of ``entity``
    (``0`` is not an ip, ``10.0.0/24`` not a subnet, ``phone-ish`` not a phone).
    """
    value = value.strip()
    if entity is Entity.PHONE or entity is Entity.FOREIGN_NUMBER:
        return e164(value)
    if entity is Entity.IP:
        return canonical_ip(value)
    if entity is Entity.SUBNET:
        return _subnet(value)
    if entity is Entity.EMAIL_DOMAIN:
        return value.lower().rsplit("@", 1)[-1].rstrip(".")
    if entity is Entity.EMAIL:
        return canonical_email(value)
    if entity is Entity.ADDRESS:
        return canonical_address(value)
    if entity is Entity.PAYMENT:
        return canonical_payment(value)
    if entity is Entity.PHONE_BLOCK:
        return _block(value)
    if entity is Entity.DEVICE_MODEL:
        return value.lower()
    if entity is Entity.LINE_MODEL:
        return _line_model(value)
    if entity is Entity.SUBNET_HANDSET:
        return _subnet_handset(value)
    return value


def _block(value: str) -> str:
    """A block as 7 digits (``1391234``), or the block a mainland mobile number belongs to."""
    if len(value) == 7 and value.isdigit():
        return value
    try:
        block = phone_block(e164(value))
    except ValueError:
        block = None
    if block is None:
        raise ValueError(f"{value[:64]!r} is not a number block like 1391234 or a mainland mobile number")
    return block


def _line_model(value: str) -> str:
    """``<ip> <model build>`` (``60.177.224.82 phm110 ukq1.230924.001``): the ip canonical, the model lower case."""
    ip, _, model = value.partition(" ")
    if not model.strip():
        raise ValueError(f"{value[:64]!r} is not a line and model like '60.177.224.82 phm110 ukq1.230924.001'")
    return f"{canonical_ip(ip)} {model.strip().lower()}"


def _subnet_handset(value: str) -> str:
    """``<network> <handset>`` (``60.177.224.0/24 iphone os 17_4 wechat 8.0.50``): an address stands for its network."""
    where, _, phone = value.partition(" ")
    phone = " ".join(phone.split()).lower()
    if not phone:
        raise ValueError(
            f"{value[:64]!r} is not a network and handset like '60.177.224.0/24 iphone os 17_4 wechat 8.0.50'"
        )
    try:
        net = network(canonical_ip(where.partition("/")[0]))
        exact = "/" not in where or canonical_network(where) == net  # a /24 or an IPv6 /48, or an address in one
    except ValueError:
        exact = False
    if not exact:
        raise ValueError(f"{value[:64]!r} does not start with an address or its /24 (IPv6: /48) like 60.177.224.0/24")
    return f"{net} {phone}"


def line_model(ip: str | None, model: str | None) -> str | None:
    """The line-and-model key of an event: None unless it carries both an ip and an Android model."""
    return None if ip is None or model is None else f"{ip} {model}"


def _subnet(value: str) -> str:
    """A network (``203.0.113.0/24``), or the /24 or /64 an address belongs to."""
    try:
        if "/" in value:
            return canonical_network(value)
        return ip_subnet(canonical_ip(value)) or value
    except ValueError:
        raise ValueError(f"{value[:64]!r} is not a network like 203.0.113.0/24 or an IP address") from None


def entity_value(event: Event, entity: Entity) -> str | None:
    """The raw (normalized) value of ``entity`` on ``event``, or None when absent."""
    read = _VALUE_OF.get(entity)
    return None if read is None else read(event)


#: How each entity's value is read off an event: a dict, not a ``match`` of ``case Entity.X`` (each of them an
#: attribute lookup on the enum class, ~1.5 us for the last one; entity_value runs for every entity of an event).
_VALUE_OF: dict[Entity, Callable[[Event], str | None]] = {
    Entity.CUSTOMER: lambda event: event.customer,
    Entity.DEVICE: lambda event: event.device,
    Entity.IP: lambda event: event.ip,
    Entity.SUBNET: lambda event: ip_subnet(event.ip),
    Entity.PHONE: lambda event: event.phone,
    Entity.PHONE_SEGMENT: lambda event: phone_segment(event.phone),
    Entity.PHONE_BLOCK: lambda event: phone_block(event.phone),
    Entity.EMAIL_DOMAIN: lambda event: email_domain(event.email),
    Entity.REFERRER: lambda event: event.referrer,
    Entity.GROUP: lambda event: event.group,
    Entity.CAMPAIGN: lambda event: event.campaign,
    Entity.COUPON: lambda event: None if event.coupon is None else canonical_code(event.coupon),
    Entity.ADDRESS: lambda event: None if event.address is None else canonical_address(event.address),
    Entity.EMAIL: lambda event: event.email,
    Entity.PAYMENT: lambda event: event.payment,
    Entity.IP_REGION: lambda event: None if event.ip is None else ip_region(event.ip),
    Entity.FOREIGN_NUMBER: lambda event: foreign_number(event.phone, event.ip),
    Entity.DEVICE_MODEL: lambda event: device_model(_user_agent(event)),
    Entity.LINE_MODEL: lambda event: line_model(event.ip, device_model(_user_agent(event))),
    Entity.SUBNET_HANDSET: lambda event: subnet_handset(event.ip, _user_agent(event)),
    Entity.BRANCH: lambda event: _branch(event),
    Entity.PLATFORM: lambda event: platform(_user_agent(event)),
}


def platform(user_agent: str | None) -> str | None:
    """``android`` when the user agent names an Android model and build, ``ios`` for an iPhone or iPad, else None."""
    if not user_agent:
        return None
    if device_model(user_agent) is not None:
        return "android"
    return "ios" if "iPhone" in user_agent or "iPad" in user_agent else None


def _user_agent(event: Event) -> str | None:
    value = event.attributes.get("user_agent")
    return value if isinstance(value, str) else None


def _branch(event: Event) -> str | None:
    """``attributes.branch`` when it is a non-empty string (a storefront's branch id), else None: no branch."""
    value = event.attributes.get(BRANCH_ATTRIBUTE)
    return value.strip() or None if isinstance(value, str) else None


def mask(entity: Entity, value: str) -> str:
    """A display hint for a personal value that does not reveal it (138****5678)."""
    if entity is Entity.PHONE and len(value) >= 7:
        national = value.removeprefix("+86") if value.startswith("+86") else value
        return f"{national[:3]}****{national[-4:]}"
    if entity in (Entity.IP, Entity.SUBNET):
        head = value.split(".", 1)[0] if "." in value else value.split(":", 1)[0]
        return f"{head}.*.*.*" + ("/" + value.rsplit("/", 1)[1] if "/" in value else "")
    if len(value) <= 4:
        return value[:1] + "*" * (len(value) - 1)
    return f"{value[:2]}****{value[-2:]}"


#: Values whose id and tag a worker remembers (~300 bytes each): the customers, devices,
#: ips and phones of the last few thousand events.
LOCATE_CACHE = 8192


class KeyBuilder:
    """Builds tenant-namespaced, hash-tagged keys; hashes personal values with HMAC."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the PII secret must be at least 16 bytes")
        self._secret = secret
        self.locate = lru_cache(maxsize=LOCATE_CACHE)(self._locate)
        self._tags = lru_cache(maxsize=LOCATE_CACHE)(self.entity_tag)

    def pii_hash(self, tenant: str, entity: Entity, value: str) -> str:
        """HMAC-SHA256(secret, tenant|entity|value), 120 bits as base64url."""
        message = f"{tenant}\x1f{NAMESPACE[entity]}\x1f{value}".encode()
        raw = hmac.digest(self._secret, message, "sha256")[:15]  # the one-shot C path: a third of hmac.new's time
        return urlsafe_b64(raw)

    def _locate(self, tenant: str, entity: Entity, value: str) -> tuple[str, str]:
        """The id and the key prefix (hash tag) of ``value`` of ``entity``; memoized as ``locate``."""
        entity_id = self.entity_id(tenant, entity, value)
        return entity_id, self.entity_tag(tenant, entity, entity_id)

    def entity_id(self, tenant: str, entity: Entity, value: str) -> str:
        """The id stored in keys and set members for ``value`` of ``entity``."""
        if entity in PII_ENTITIES:
            return self.pii_hash(tenant, entity, value)
        return safe_id(value)

    def tag(self, tenant: str, entity: Entity, entity_id: str) -> str:
        """Key prefix (with hash tag) of everything stored about one entity (memoized per worker)."""
        found: str = self._tags(tenant, entity, entity_id)
        return found

    @staticmethod
    def entity_tag(tenant: str, entity: Entity, entity_id: str) -> str:
        """Key prefix of one entity from its stored id (``entity_id``), with no secret: ids that are not PII."""
        return f"{PREFIX}:{{{safe_id(tenant)}:{NAMESPACE[entity]}:{entity_id}}}"

    def list_index_key(self, tenant: str) -> str:
        """Per-tenant index of live list entries, for listing them page by page."""
        return f"{PREFIX}:{{{safe_id(tenant)}:lists}}:idx"
