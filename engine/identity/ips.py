"""IP addresses and networks in one canonical form, before anything hashes, counts or lists them.

One host has several spellings, and a caller chooses which one it sends:

- an IPv4 client seen through a dual-stack socket or proxy is ``::ffff:203.0.113.7``
  (an IPv4-mapped IPv6 address, also written ``0:0:0:0:0:ffff:cb00:7107``). Read as
  IPv6 it was another address than ``203.0.113.7``: it missed a block entry written the
  usual way, split the host's ``ip.*`` counters in two, and its "/64" was ``::/64``,
  one subnet shared by every IPv4 client sent that way;
- an IPv6 address may carry a zone (``fe80::1%eth0``, ``2001:db8::7%1``): the zone
  names an interface of the *sender's* host, not another address, but every zone text
  was another ``ip`` value, so one address could count as any number of them.

Canonical: IPv4-mapped addresses as their IPv4 dotted quad, zones dropped, IPv6 in
its compressed lower-case form (``ipaddress``); a network of mapped addresses
(``::ffff:198.51.100.0/120``) as the IPv4 network it covers. Refused (ValueError,
worded for the caller's 422): anything ``ipaddress`` does not parse. Not folded:
addresses that embed an IPv4 by translation (NAT64 ``64:ff9b::/96``, 6to4, Teredo),
which name other hosts than the IPv4 inside them, or not reliably the client.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def ip_value(raw: str) -> IPAddress:
    """``raw`` as the address it names (mapped IPv4 as IPv4, no zone); ValueError naming it otherwise."""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        raise ValueError(f"{raw[:64]!r} is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:
            return ipaddress.IPv6Address(int(address))
    return address


@lru_cache(maxsize=8192)
def canonical_ip(raw: str) -> str:
    """The one spelling of the address ``raw`` names (``::ffff:203.0.113.7`` -> ``203.0.113.7``)."""
    if _plain_ipv4(raw):
        return raw  # already its one spelling: what ``str(ip_address(raw))`` gives back, at a fifth of its ~5 µs
    return str(ip_value(raw))


def _plain_ipv4(raw: str) -> bool:
    """Four ASCII decimal octets 0-255, no leading zeros: an IPv4 address as ``ipaddress`` writes it."""
    octets = raw.split(".")
    if len(octets) != 4:
        return False
    for octet in octets:
        if not (0 < len(octet) <= 3 and octet.isascii() and octet.isdigit()) or (octet[0] == "0" and octet != "0"):
            return False
        if len(octet) == 3 and octet > "255":
            return False
    return True


def canonical_network(raw: str) -> str:
    """The network ``raw`` names (``a.b.c.d/n`` or IPv6), mapped IPv4 networks as IPv4; ValueError otherwise."""
    address, _, prefix = raw.partition("/")
    host = ip_value(address)
    length = prefix or str(host.max_prefixlen)
    try:
        network: IPNetwork = ipaddress.ip_network(f"{address.partition('%')[0]}/{length}", strict=False)
    except ValueError:
        raise ValueError(f"{raw[:64]!r} is not a network like 203.0.113.0/24") from None
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
        network = ipaddress.IPv4Network(f"{host}/{network.prefixlen - 96}", strict=False)
    return str(network)
