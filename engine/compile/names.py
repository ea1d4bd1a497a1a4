"""The names a condition may read, and their types."""

from __future__ import annotations

from engine.expr.tree import Type

#: event.<field> -> type; the event model's fields plus local-time helpers.
EVENT_FIELDS: dict[str, Type] = {
    "event.type": Type.STRING,
    "event.customer": Type.STRING,
    "event.device": Type.STRING,
    "event.ip": Type.STRING,
    "event.phone": Type.STRING,
    "event.email": Type.STRING,
    "event.referrer": Type.STRING,
    "event.group": Type.STRING,
    "event.campaign": Type.STRING,
    "event.coupon": Type.STRING,
    "event.address": Type.STRING,
    "event.payment": Type.STRING,
    "event.label": Type.STRING,
    "event.amount": Type.NUMBER,
    "event.hour": Type.NUMBER,
    "event.weekday": Type.NUMBER,
}

#: True when the number's province (phonenumbers' offline geocoder) is known and outside
#: ``pack.service_area``; computed only for a pack whose conditions read it (engine/facts.py).
PHONE_OUTSIDE_AREA = "phone.outside_area"
#: True when the address's province (ip2region, offline) is known and outside ``pack.service_area``,
#: or it is a public address abroad; computed only for a pack whose conditions read it.
IP_OUTSIDE_AREA = "ip.outside_area"
#: True when the address is in a cloud / hosting / CDN network (ip2region's ISP field, engine/geo.py);
#: computed only for a pack whose conditions read it. Missing when the network is unknown.
IP_HOSTING = "ip.hosting"
#: The derived fields that compare the event with the merchant's area: reading one needs pack.service_area.
AREA_FIELDS: tuple[str, ...] = (PHONE_OUTSIDE_AREA, IP_OUTSIDE_AREA)

DERIVED_FIELDS: dict[str, Type] = {
    "phone.segment": Type.STRING,
    PHONE_OUTSIDE_AREA: Type.BOOL,
    IP_OUTSIDE_AREA: Type.BOOL,
    IP_HOSTING: Type.BOOL,
    "email.domain": Type.STRING,
    "ip.subnet": Type.STRING,
}

ATTRIBUTE_TYPES: dict[str, Type] = {"number": Type.NUMBER, "string": Type.STRING, "bool": Type.BOOL}
