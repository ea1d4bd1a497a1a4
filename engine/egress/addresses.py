"""Which IP addresses a webhook may never reach unless the operator names them.

A rule pack is written by a marketer, not by the operator: a webhook URL is untrusted.
Addresses that lead inside the deployment (loopback, private, link-local, CGNAT,
cloud metadata, multicast, unspecified, reserved) are *special*; only an address or
network entry of the operator's allow-list opens one. Addresses that embed an IPv4
address (IPv4-mapped, NAT64, 6to4) are judged by the address they embed, so
``::ffff:127.0.0.1`` is loopback too.
"""

from __future__ import annotations

import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Instance-metadata endpoints of the big clouds (AWS, GCP, Azure, Alibaba, Oracle): named in refusals.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


def special_kind(address: IPAddress) -> str | None:
    """What makes ``address`` internal (``"loopback"``, ``"cloud metadata"``...), or None when it is public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return special_kind(embedded)
    if address in METADATA:
        return "cloud metadata"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("CGNAT (shared)", address.version == 4 and address in CGNAT),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for kind, hit in checks:
        if hit:
            return kind
    return None if address.is_global else "not globally routable"


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, or None for a name.

    Accepts what the resolver accepts too: ``127.1``, ``2130706433`` and ``0x7f.0.0.1``
    are all 127.0.0.1 to ``getaddrinfo``, so they are addresses here, not names.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None
