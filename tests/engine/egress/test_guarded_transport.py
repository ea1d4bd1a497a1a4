"""Deliveries through ``Egress`` against a real local HTTP receiver: what is refused never reaches it.

Every test points a client at a receiver on 127.0.0.1 and then counts what the receiver
got: a refusal must happen before any byte is sent, not after.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import Any

import httpcore
import httpx
import pytest

from engine.egress.policy import WebhookPolicy
from engine.egress.transport import Egress, EgressRefused, GuardedBackend
from tests.engine.egress.local_receiver import Receiver, receiver_at


async def post(policy: WebhookPolicy, url: str, tenant: str = "studio") -> httpx.Response:
    async with Egress(policy) as egress:
        return await egress.client(tenant).post(url, content=b"{}", timeout=5)


async def refused(policy: WebhookPolicy, url: str, tenant: str = "studio") -> str:
    with pytest.raises(httpx.ConnectError) as caught:
        await post(policy, url, tenant)
    assert isinstance(caught.value.__cause__, EgressRefused), caught.value
    return str(caught.value.__cause__)


async def test_loopback_receiver_gets_nothing_by_default_and_a_post_once_the_operator_allows_it() -> None:
    receiver = Receiver()
    with receiver_at(receiver) as port:
        assert "127.0.0.1 is a loopback address" in await refused(WebhookPolicy(), f"http://127.0.0.1:{port}/hooks")
        assert "loopback" in await refused(WebhookPolicy(), f"http://2130706433:{port}/hooks")
        assert receiver.connections == 0
        answer = await post(WebhookPolicy.parse(hosts="127.0.0.1"), f"http://127.0.0.1:{port}/hooks")
        assert answer.status_code == 200
        assert receiver.requests == [{"host": f"127.0.0.1:{port}", "path": "/hooks"}]


async def test_metadata_and_ipv6_loopback_literals_are_refused_without_a_connection_attempt() -> None:
    began = time.perf_counter()
    assert "cloud metadata" in await refused(WebhookPolicy(), "http://169.254.169.254/latest/meta-data/")
    assert "loopback" in await refused(WebhookPolicy(), "http://[::1]:6379/")
    assert "loopback" in await refused(WebhookPolicy(), "http://[::ffff:127.0.0.1]:6379/")
    assert time.perf_counter() - began < 1, "refused before connecting, not after a timeout"


async def test_a_name_that_resolves_inside_is_refused_after_resolution() -> None:
    receiver = Receiver()
    with receiver_at(receiver) as port:
        # 'localhost' passes the name check of '*' (and of an entry naming it); its address does not
        for hosts in ("*", "localhost"):
            why = await refused(WebhookPolicy.parse(hosts=hosts), f"http://localhost:{port}/hooks")
            assert why.startswith("localhost resolves to ") and "loopback" in why
        name = socket.gethostname()
        resolved = {info[4][0] for info in socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)}
        if all(WebhookPolicy().default.address_refusal(ipaddress.ip_address(a)) for a in resolved):
            assert "resolves to" in await refused(WebhookPolicy(), f"http://{name}:{port}/hooks")
        assert receiver.connections == 0


async def test_an_allowed_name_connects_to_the_checked_address_and_keeps_its_host_header() -> None:
    receiver = Receiver()
    with receiver_at(receiver) as port:
        policy = WebhookPolicy.parse(hosts="localhost 127.0.0.1 ::1")  # the name, and the addresses it may have
        answer = await post(policy, f"http://localhost:{port}/hooks")
        assert answer.status_code == 200
        assert receiver.requests == [{"host": f"localhost:{port}", "path": "/hooks"}]


async def test_the_socket_opens_to_the_address_that_was_checked_not_to_the_name_again() -> None:
    """No second resolution, so no DNS-rebinding window between the check and the connection."""

    class Recording(httpcore.AnyIOBackend):
        def __init__(self) -> None:
            self.hosts: list[str] = []

        async def connect_tcp(self, host: str, port: int, **kwargs: Any) -> httpcore.AsyncNetworkStream:
            self.hosts.append(host)
            return await super().connect_tcp(host, port, **kwargs)

    with receiver_at(Receiver()) as port:
        inner = Recording()
        allow = WebhookPolicy.parse(hosts="localhost 127.0.0.1 ::1").default
        stream = await GuardedBackend(allow, inner).connect_tcp("localhost", port, timeout=5)
        await stream.aclose()
    assert inner.hosts and inner.hosts[-1] == "127.0.0.1" and "localhost" not in inner.hosts


async def test_redirects_are_answers_never_followed() -> None:
    inside, front = Receiver(), Receiver()
    with receiver_at(inside) as inside_port:
        front.status, front.location = 302, f"http://127.0.0.1:{inside_port}/admin"
        with receiver_at(front) as front_port:
            answer = await post(WebhookPolicy.parse(hosts="127.0.0.1"), f"http://127.0.0.1:{front_port}/hooks")
    assert answer.status_code == 302
    assert len(front.requests) == 1 and inside.requests == []


async def test_a_proxy_in_the_environment_is_not_a_way_around_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = Receiver()
    with receiver_at(proxy) as port:
        for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy"):
            monkeypatch.setenv(variable, f"http://127.0.0.1:{port}")
        assert "cloud metadata" in await refused(WebhookPolicy(), "http://169.254.169.254/latest/meta-data/")
    assert proxy.connections == 0


async def test_each_tenant_posts_with_its_own_list() -> None:
    receiver = Receiver()
    policy = WebhookPolicy.parse(hosts="*", tenant_hosts="studio=127.0.0.1")
    with receiver_at(receiver) as port:
        url = f"http://127.0.0.1:{port}/hooks"
        assert "loopback" in await refused(policy, url, tenant="someone_else")
        assert (await post(policy, url, tenant="studio")).status_code == 200
    assert len(receiver.requests) == 1
