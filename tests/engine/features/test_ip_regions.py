"""``ip_region``: the province of a request's IP (dial-up rotation, 秒拨), on a real Redis and a real cluster.

The farmer controls the IP only as far as his pool lets him: a 秒拨 pool hands every
request a fresh residential address, mostly in another province. He may spell an address
as IPv4-mapped IPv6, send one with no region (private, reserved, IPv6) or none at all:
those never count as a province (missing or the provinces already seen), and an honest
parent's many 4G exits in one province stay one province.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from feature_backends import Backend
from feature_stream import START

from engine.events import Event
from engine.features.keys import entity_value
from engine.features.spec import Aggregate, Entity, WindowedFeature

REGIONS = WindowedFeature(
    name="customer.ip_regions_10m",
    aggregate=Aggregate.DISTINCT,
    by=Entity.CUSTOMER,
    window_seconds=600,
    on=frozenset(),
    field="ip_region",
)
SPECS = (REGIONS,)
_n = iter(range(10_000))

SHANGHAI, GUANGDONG, LIAONING = "218.83.239.20", "14.22.31.54", "42.182.254.191"
HANGZHOU_4G = ("112.10.181.126", "112.17.63.228", "111.1.230.134", "39.184.229.91")  # China Mobile Zhejiang


def _claim(customer: str, ip: str | None, minutes: float) -> Event:
    return Event(
        event_id=f"ipr{next(_n)}",
        type="coupon_claim",
        customer=customer,
        ip=ip,
        campaign="newcomer_gift",
        timestamp=START + timedelta(minutes=minutes),
    )


async def _regions(backend: Backend, tenant: str, event: Event) -> object:
    store = backend.store()
    return (await store.record_and_read(tenant=tenant, event=event, specs=SPECS)).values[REGIONS.name]


@pytest.mark.parametrize(
    ("ip", "region"),
    [
        (SHANGHAI, "上海"),
        (GUANGDONG, "广东"),
        ("::ffff:" + LIAONING, "辽宁"),  # a dual-stack socket's spelling of the same address
        ("192.168.1.20", None),  # private: no region, never "another province"
        ("2408:8207:1850::1", None),  # IPv6: the offline database has no region for it
    ],
)
def test_an_address_has_its_province_and_only_public_ipv4_has_one(ip: str, region: str | None) -> None:
    assert entity_value(_claim("c", ip, 0), Entity.IP_REGION) == region


async def test_a_dial_up_account_counts_a_province_per_request(backend: Backend, tenant: str) -> None:
    # attack: a fresh exit in another province for every request, minutes apart
    counts = [await _regions(backend, tenant, _claim("dial", ip, i * 2)) for i, ip in enumerate((SHANGHAI, GUANGDONG))]
    assert counts == [1, 2]
    # spelling the next exit as IPv4-mapped IPv6 does not make Liaoning new twice
    assert await _regions(backend, tenant, _claim("dial", "::ffff:" + LIAONING, 4)) == 3
    assert await _regions(backend, tenant, _claim("dial", LIAONING, 5)) == 3
    # an address with no region in between lowers nothing
    assert await _regions(backend, tenant, _claim("dial", "10.0.0.7", 6)) == 3
    # ten minutes on, the early provinces have left the window
    assert await _regions(backend, tenant, _claim("dial", LIAONING, 16)) == 1


async def test_a_parent_on_4g_exits_stays_in_one_province(backend: Backend, tenant: str) -> None:
    # honest look-alike: the carrier's CGNAT hands her another /24 on every request
    counts = [await _regions(backend, tenant, _claim("mum", ip, i)) for i, ip in enumerate(HANGZHOU_4G)]
    assert counts == [1, 1, 1, 1]


async def test_no_ip_is_no_province(backend: Backend, tenant: str) -> None:
    # attack: leave the IP out of every request so the account never shows a second province
    assert await _regions(backend, tenant, _claim("noip", None, 0)) == 0  # the account's own, counted: none
    assert await _regions(backend, tenant, _claim("noip", SHANGHAI, 1)) == 1
