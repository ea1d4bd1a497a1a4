"""An httpx client that connects only to addresses the allow-list accepts, checked when it connects.

Checking a URL and then handing it to a client that resolves the name again leaves a
window (DNS rebinding: the first answer is public, the second 127.0.0.1). Here the check
sits inside the connection itself: httpcore asks the network backend to connect to
``(host, port)``; ``GuardedBackend`` resolves the host once, refuses the connection
unless *every* address is allowed, and opens the socket to one of those checked
addresses. TLS still verifies, and SNI and ``Host`` still carry, the URL's host name,
because httpcore takes them from the URL, not from the socket.

No proxy is used (``trust_env=False``: an ``HTTPS_PROXY`` would connect to the proxy,
not to the checked address) and redirects are never followed: a 3xx is an answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from engine.egress.addresses import IPAddress
from engine.egress.policy import AllowList, WebhookPolicy


class EgressRefused(httpcore.ConnectError):
    """The allow-list refused every way to this host; httpx raises it as ``ConnectError`` caused by this."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, behind an allow-list check on the resolved addresses."""

    def __init__(self, allow: AllowList, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.allow = allow
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        refusal = self.allow.name_refusal(host)
        if refusal is not None:
            raise EgressRefused(refusal)
        addresses = await self._resolve(host, port, timeout)
        for address in addresses:
            refusal = self.allow.address_refusal(address)
            if refusal is not None:
                raise EgressRefused(f"{host} resolves to {refusal}" if str(address) != host else refusal)
        error: Exception = EgressRefused(f"{host} has no address")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                error = err
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise EgressRefused("webhooks do not connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)

    @staticmethod
    async def _resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), timeout
            )
        except (OSError, TimeoutError) as err:
            raise httpcore.ConnectError(f"cannot resolve {host}: {err}") from err
        found = dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos)
        return list(found)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connection pool connects through a ``GuardedBackend``."""

    def __init__(self, allow: AllowList) -> None:
        super().__init__(trust_env=False, retries=0)
        # httpx offers no way to pass a network backend: replace the pool it built with one on
        # ours (tests/engine/egress would see webhooks reach refused addresses if this stopped working)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), network_backend=GuardedBackend(allow)
        )


class Egress:
    """One guarded client per tenant allow-list; ``client(tenant)`` is what a delivery posts with."""

    def __init__(self, policy: WebhookPolicy) -> None:
        self.policy = policy
        self._clients: dict[int, httpx.AsyncClient] = {}

    def client(self, tenant: str) -> httpx.AsyncClient:
        allow = self.policy.for_tenant(tenant)
        key = id(allow)
        if key not in self._clients:
            self._clients[key] = httpx.AsyncClient(
                transport=GuardedTransport(allow), trust_env=False, follow_redirects=False
            )
        return self._clients[key]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def __aenter__(self) -> Egress:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
