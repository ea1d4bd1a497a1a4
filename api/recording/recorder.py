"""Recording the events the API answers, pseudonymized, in a capped Redis stream per tenant.

Opt-in (``YUTANG_RECORD_EVENTS=1``): a merchant turns it on to collect a replay log
of its real traffic. Each event is written as the replay log line it will be
exported as (:mod:`engine.replay.log`), after its personal fields are replaced by
pseudonyms made with the feature store's HMAC (:class:`engine.features.keys.KeyBuilder`),
so the raw values never reach the stream and the same value always gets the same
pseudonym for one tenant. The pseudonyms keep what rules read from these fields:

- phone: E.164 with the carrier segment (``+86`` and the first three digits, e.g. 170)
  and eight digits of the HMAC of the number (another country: its code and ten
  digits): ``phone.segment`` rules still fire, repeats still count; the number was
  normalized first, so its spellings share one pseudonym;
- ip: a /24 made from the HMAC of the real /24 and a host from the HMAC of the
  address, so ``ip.subnet`` windows group the same events (IPv6 likewise in fd00::/8);
- email: the local part becomes ``u<hmac>``, the domain stays (disposable-domain rules);
- address: ``adr-<hmac>`` of the canonical address key (engine.identity.addresses);
- payment: ``pay-<hmac>`` of the token.

Customer, device, group and campaign ids are the merchant's own opaque ids and are
kept, as the feature store keeps them. Attributes are kept as sent.

The stream is trimmed to ``max_events`` entries (``XADD MAXLEN``, one eviction per add): the oldest
events go first, and memory stays bounded whatever the traffic.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import AsyncIterator
from typing import Any

from engine.datastore.keys import PREFIX, safe_id
from engine.events import Event, ip_subnet, phone_segment
from engine.features.keys import KeyBuilder, normalize
from engine.features.spec import Entity
from engine.phones import country_code
from engine.replay.log import dump_record

PAGE = 500


def stream_key(tenant: str) -> str:
    return f"{PREFIX}:{{{safe_id(tenant)}:rec}}:events"


class EventRecorder:
    """Pseudonymizes events and appends them to the tenant's capped stream."""

    def __init__(self, keys: KeyBuilder, *, max_events: int) -> None:
        self.keys = keys
        self.max_events = max_events

    def pseudonymize(self, tenant: str, event: Event) -> dict[str, Any]:
        """The event as a replay log line, personal fields replaced by stable pseudonyms."""
        data = event.model_dump(mode="json", exclude_none=True)
        if not data.get("attributes"):
            data.pop("attributes", None)
        if event.phone:
            data["phone"] = self._phone(tenant, event.phone)
        if event.ip:
            data["ip"] = self._ip(tenant, event.ip)
        if event.email:
            local, _, domain = event.email.partition("@")
            data["email"] = f"u{self._number(tenant, Entity.EMAIL_DOMAIN, local) % 10**12}@{domain}"
        if event.address:
            address = normalize(Entity.ADDRESS, event.address)
            data["address"] = "adr-" + self.keys.pii_hash(tenant, Entity.ADDRESS, address)
        if event.payment:
            data["payment"] = "pay-" + self.keys.pii_hash(tenant, Entity.PAYMENT, event.payment)
        return data

    async def record(self, redis: Any, *, tenant: str, event: Event) -> None:
        line = dump_record(self.pseudonymize(tenant, event))
        await redis.xadd(stream_key(tenant), {"e": line}, maxlen=self.max_events, approximate=False)

    def _number(self, tenant: str, entity: Entity, value: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(self.keys.pii_hash(tenant, entity, value)), "big")

    def _phone(self, tenant: str, phone: str) -> str:
        """E.164 again: a mainland number keeps its segment (+86 170 ...), another its country code."""
        number = self._number(tenant, Entity.PHONE, phone)
        segment = phone_segment(phone)
        if segment:
            return f"+86{segment}{number % 10**8:08d}"
        return f"+{country_code(phone)}{number % 10**10:010d}"

    def _ip(self, tenant: str, ip: str) -> str:
        subnet = ip_subnet(ip) or ip
        net, host = self._number(tenant, Entity.SUBNET, subnet), self._number(tenant, Entity.IP, ip)
        if ":" in ip:
            return str(ipaddress.IPv6Address((0xFD << 120) | ((net % 2**56) << 64) | (host % 2**64)))
        return str(ipaddress.IPv4Address(((net % 2**24) << 8) | (host % 254 + 1)))


async def export_lines(redis: Any, *, tenant: str, limit: int) -> AsyncIterator[str]:
    """The tenant's recorded events, oldest first, one JSON line each (at most ``limit``)."""
    start, sent = "-", 0
    while sent < limit:
        page = await redis.xrange(stream_key(tenant), min=start, count=min(PAGE, limit - sent))
        if not page:
            return
        for _, fields in page:
            line = fields.get(b"e") if b"e" in fields else fields.get("e")
            yield (line.decode() if isinstance(line, bytes) else str(line)) + "\n"
        sent += len(page)
        last = page[-1][0]
        start = "(" + (last.decode() if isinstance(last, bytes) else str(last))


async def recorded_count(redis: Any, *, tenant: str) -> int:
    return int(await redis.xlen(stream_key(tenant)))
