"""One host, one spelling: the forms of an address a caller may send key, count and list as one."""

from __future__ import annotations

import pytest

from engine.events import Event, ip_subnet
from engine.features.keys import normalize
from engine.features.spec import Entity
from engine.identity.ips import canonical_ip, canonical_network


@pytest.mark.parametrize(
    ("sent", "host"),
    [
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("0:0:0:0:0:FFFF:CB00:7107", "203.0.113.7"),
        ("2001:DB8::7%eth0", "2001:db8::7"),
        ("fe80::1%1", "fe80::1"),
        ("64:ff9b::203.0.113.7", "64:ff9b::cb00:7107"),  # NAT64: another host than the IPv4 inside
        ("203.0.113.7", "203.0.113.7"),
    ],
)
def test_each_spelling_of_a_host_is_its_one_address_for_events_and_lists(sent: str, host: str) -> None:
    assert canonical_ip(sent) == host
    assert Event(event_id="e", type="signup", customer="c", ip=sent).ip == host
    assert normalize(Entity.IP, sent) == host


def test_a_mapped_client_is_in_its_own_24_not_in_one_64_with_every_other() -> None:
    assert ip_subnet(Event(event_id="e", type="signup", customer="c", ip="::ffff:198.51.100.9").ip) == "198.51.100.0/24"
    assert normalize(Entity.SUBNET, "::ffff:198.51.100.9") == "198.51.100.0/24"
    assert canonical_network("::ffff:198.51.100.0/120") == normalize(Entity.SUBNET, "198.51.100.0/24")
    assert canonical_network("2001:db8::1%x/64") == "2001:db8::/64"


@pytest.mark.parametrize("bad", ["::ffff:999.1.1.1", "1.2.3.4%eth0", "10.0.0", "fe80::1%", "1.2.3.4/33"])
def test_what_is_no_address_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match=r"not an IPv4 or IPv6 address|not a network") as refused:
        normalize(Entity.SUBNET if "/" in bad else Entity.IP, bad)
    assert repr(bad) in str(refused.value)
