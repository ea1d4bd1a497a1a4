"""``ip.hosting``: is a claim's address in a cloud / hosting / CDN network, as a caller can send it.

A script calling the red-packet API straight (协议抢) controls every byte of the claim (the
user agent, the device id, ``claim_ms``) but not where its requests come from: a rented
server. The caller can still send any address: the same host spelt as an IPv4-mapped IPv6
address, a private or reserved one, IPv6 (ip2region is IPv4), one whose network ip2region
does not name. Only a known hosting network counts; nothing makes a server look like a
phone except a network nobody can name, which is missing (neither), never "not a server".
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.events import Event
from engine.rule_engine import LoadedRuleSet, prepare

PACK = """pack: {name: hosting}
decision: {review_at: 40, deny_at: 80}
tiers:
  - {id: occasional, default: true}
rules:
  - id: from_server
    code: 1
    on: [red_packet_claim]
    when: ip.hosting
    score: 40
    reason: {zh: 机房网络, en: hosting network}
  - id: from_a_phone_network
    code: 2
    on: [red_packet_claim]
    when: ip.hosting == false
    score: 1
    reason: {zh: 运营商网络, en: a carrier or broadband network}
"""


@pytest.fixture(scope="module")
def loaded():  # type: ignore[no-untyped-def]
    ruleset = prepare({"p.yaml": PACK}, "python")
    yield ruleset
    ruleset.matcher.close()


def _claim(ip: str | None) -> Event:
    return Event(event_id="e", type="red_packet_claim", customer="c", ip=ip, timestamp=datetime.now(UTC))


@pytest.mark.parametrize(
    ("ip", "rules"),
    [
        ("47.96.12.40", ["from_server"]),  # Alibaba Cloud, Hangzhou
        ("::ffff:47.96.12.40", ["from_server"]),  # the same host through a dual-stack proxy
        ("::FFFF:2f60:0c28", ["from_server"]),  # and spelt in hex
        ("119.29.29.29", ["from_server"]),  # Tencent's network
        ("54.240.0.1", ["from_server"]),  # Amazon, abroad
        ("115.236.1.1", ["from_a_phone_network"]),  # Hangzhou Telecom broadband
        ("223.104.5.9", ["from_a_phone_network"]),  # China Mobile's data network
        ("10.8.0.3", []),  # private: no network known
        ("100.64.1.1", []),  # carrier-grade NAT space
        ("198.51.100.7", []),  # documentation range
        ("2409:8a00::1", []),  # IPv6: the database is IPv4, so missing, not a phone
        ("114.114.114.114", []),  # a network ip2region does not name: missing
        (None, []),
    ],
)
def test_only_a_named_hosting_network_counts(loaded: LoadedRuleSet, ip: str | None, rules: list[str]) -> None:
    evaluation = loaded.evaluate(_claim(ip), {})
    assert [r.rule for r in evaluation.reasons] == rules


def test_a_pack_that_never_reads_it_never_looks_the_network_up() -> None:
    ruleset = prepare(
        {
            "p.yaml": PACK.replace("ip.hosting == false", "event.ip == '1.1.1.1'").replace(
                "when: ip.hosting", "when: ip.subnet == '47.96.12.0/24'"
            )
        },
        "python",
    )
    try:
        assert ruleset.ruleset.reads_hosting is False
        facts = ruleset.fact_builder.build(_claim("47.96.12.40"), {})
        assert "ip.hosting" not in facts and facts["ip.subnet"] == "47.96.12.0/24"
    finally:
        ruleset.matcher.close()
